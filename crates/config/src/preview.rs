//! What a stream would get: the template that applies (and why), and the exact keys its
//! files would have if it started now. `tapedeck config check --app --stream` prints it;
//! the app's Templates screen shows it as the user types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Format, Template};
use crate::naming::{render, NameContext};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct NamePreview {
    /// The template that applies: its place in the file and its patterns. `None`: the
    /// stream would not be recorded.
    pub template: Option<TemplateMatch>,
    /// Why that one, in words: "app and stream match exactly", "every stream of app
    /// live", "stream cam1 of every app", "every app and stream", or why none does.
    pub why: String,
    pub keys: PreviewKeys,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct TemplateMatch {
    /// Its index among the `[[template]]`s (`None` for a template being edited that is not
    /// saved yet).
    pub index: Option<usize>,
    pub app: String,
    pub stream: String,
}

/// The keys (paths under the recordings folder and in the bucket) of a stream starting
/// now, one per format the template records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct PreviewKeys {
    pub playlist: Option<String>,
    /// The first segment's key.
    pub segment: Option<String>,
    pub mp4: Option<String>,
    pub flv: Option<String>,
    /// The daily index (all of the day's segments).
    pub daily: Option<String>,
}

/// How `template` matches `app`/`stream`, or `None`.
fn rank(t: &Template, app: &str, stream: &str) -> Option<(u8, String)> {
    match (
        t.app == app,
        t.stream == stream,
        t.app == "*",
        t.stream == "*",
    ) {
        (true, true, _, _) => Some((0, "app and stream match exactly".to_string())),
        (true, _, _, true) => Some((1, format!("every stream of app {app}"))),
        (_, true, true, _) => Some((2, format!("stream {stream} of every app"))),
        (_, _, true, true) => Some((3, "every app and stream".to_string())),
        _ => None,
    }
}

/// The preview for `app`/`stream` under `config`; with `draft`, as if that template (not
/// saved yet) were template `draft_index` (`None`: a new one at the end).
pub fn names(
    config: &Config,
    app: &str,
    stream: &str,
    now: DateTime<Utc>,
    draft: Option<(&Template, Option<usize>)>,
) -> NamePreview {
    let mut candidates: Vec<(Option<usize>, &Template)> = config
        .template
        .iter()
        .enumerate()
        .filter(|(i, _)| draft.is_none_or(|(_, d)| d != Some(*i)))
        .map(|(i, t)| (Some(i), t))
        .collect();
    if let Some((t, i)) = draft {
        candidates.push((i, t));
    }
    let best = candidates
        .iter()
        .filter_map(|(i, t)| rank(t, app, stream).map(|(r, why)| (r, *i, *t, why)))
        .min_by_key(|(r, i, _, _)| (*r, i.unwrap_or(usize::MAX)));
    let Some((_, index, t, why)) = best else {
        return NamePreview {
            template: None,
            why: format!("no template matches {app}/{stream}: it would not be recorded. Add one with app {app:?} or \"*\"."),
            keys: PreviewKeys::default(),
        };
    };
    let ctx = NameContext {
        app,
        stream,
        start: now,
        end: Some(now + chrono::Duration::hours(1)),
        segment_start: None,
        sequence: 0,
        tz: t.tz(),
    };
    let mut keys = PreviewKeys::default();
    for f in &t.formats {
        match f {
            Format::M3u8 => {
                keys.playlist = Some(render(&t.m3u8.object, &ctx, "m3u8"));
                keys.segment = Some(render(&t.m3u8.slice_object, &ctx, "ts"));
                if !t.m3u8.daily_object.is_empty() {
                    keys.daily = Some(render(&t.m3u8.daily_object, &ctx, "m3u8"));
                }
            }
            Format::Mp4 => keys.mp4 = Some(render(&t.mp4.object, &ctx, "mp4")),
            Format::Flv => keys.flv = Some(render(&t.flv.object, &ctx, "flv")),
        }
    }
    NamePreview {
        template: Some(TemplateMatch {
            index,
            app: t.app.clone(),
            stream: t.stream.clone(),
        }),
        why,
        keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_toml(
            "[[template]]\napp = \"*\"\nstream = \"*\"\n[[template]]\napp = \"live\"\nstream = \"*\"\nformats = [\"mp4\", \"flv\"]\n[template.mp4]\nobject = \"{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn the_best_template_and_why() {
        let now = "2026-11-24T10:15:30Z".parse().unwrap();
        let p = names(&config(), "live", "cam1", now, None);
        assert_eq!(p.template.as_ref().unwrap().index, Some(1));
        assert_eq!(p.why, "every stream of app live");
        assert_eq!(
            p.keys.mp4.as_deref(),
            Some("live/cam1/2026-11-24-10-15-30_2026-11-24-11-15-30.mp4")
        );
        assert!(p.keys.flv.is_some() && p.keys.playlist.is_none());
        let p = names(&config(), "other", "x", now, None);
        assert_eq!(p.why, "every app and stream");
        assert_eq!(p.keys.daily.as_deref(), Some("other/x/2026-11-24.m3u8"));
    }

    #[test]
    fn a_draft_replaces_the_template_it_edits() {
        let now = "2026-11-24T10:15:30Z".parse().unwrap();
        let draft = Template {
            app: "live".into(),
            stream: "cam1".into(),
            ..Template::default()
        };
        let p = names(&config(), "live", "cam1", now, Some((&draft, Some(1))));
        assert_eq!(p.why, "app and stream match exactly");
        assert_eq!(p.template.unwrap().index, Some(1));
        let p = names(&config(), "live", "cam2", now, Some((&draft, Some(1))));
        assert_eq!(
            p.why, "every app and stream",
            "template 1 is being edited away"
        );
        let none = Config {
            template: Vec::new(),
            ..Config::default()
        };
        let p = names(&none, "a", "b", now, Some((&draft, None)));
        assert!(p.why.starts_with("no template matches a/b"), "{}", p.why);
    }
}
