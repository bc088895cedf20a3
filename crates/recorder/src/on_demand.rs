//! On-demand recording: before a recording writes anything, a GET to the configured
//! decision URL with `app`, `domain`, `stream`, `vbitrate` (kbit/s, measured over the
//! first media) and `codec` decides whether and how to record. The answer, as the cloud
//! defines it:
//!
//! ```json
//! {"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300},"Format":["mp4"]}
//! ```
//!
//! `NeedRecord: false` records nothing (until `tapedeck record start`); `Format` is
//! intersected with the template's formats; `Interval` sets a format's cycle in seconds
//! (clamped to 10 s - 6 h). When the URL cannot be reached or answers something else, the
//! template applies unchanged and the log says why: losing a recording is worse than
//! recording one nobody asked for.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Format, Template};
use crate::duration::Secs;

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Where to ask, snapshotted with the template when a stream starts.
#[derive(Clone, Debug)]
pub struct OnDemand {
    pub url: String,
    pub domain: String,
}

/// What the stream looks like when the question is asked.
#[derive(Clone, Debug)]
pub struct StreamFacts {
    pub app: String,
    pub stream: String,
    pub codec: String,
    pub vbitrate_kbps: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Decision {
    #[serde(default = "yes")]
    pub need_record: bool,
    #[serde(default)]
    pub format: Option<Vec<String>>,
    #[serde(default)]
    pub interval: HashMap<String, u64>,
}

fn yes() -> bool {
    true
}

/// Asks `on_demand` about `facts`.
pub async fn ask(on_demand: &OnDemand, facts: &StreamFacts) -> Result<Decision, String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(&on_demand.url)
        .query(&[
            ("app", facts.app.as_str()),
            ("domain", on_demand.domain.as_str()),
            ("stream", facts.stream.as_str()),
            ("vbitrate", &facts.vbitrate_kbps.to_string()),
            ("codec", facts.codec.as_str()),
        ])
        .send()
        .await
        // Without the URL: it may carry a token, and the caller logs this.
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    let text = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    serde_json::from_str(&text)
        .map_err(|e| format!("answered {text:?}, which is not a decision: {e}"))
}

/// The template with a decision applied. `None`: do not record.
pub fn apply(template: &Template, decision: &Decision) -> Option<Template> {
    if !decision.need_record {
        return None;
    }
    let mut t = template.clone();
    if let Some(formats) = &decision.format {
        let wanted: Vec<Format> = formats.iter().filter_map(|f| parse_format(f)).collect();
        t.formats.retain(|f| wanted.contains(f));
        if t.formats.is_empty() {
            return None;
        }
    }
    for (name, secs) in &decision.interval {
        let cycle = Secs((*secs).clamp(10, 21600));
        match parse_format(name) {
            Some(Format::Mp4) => t.mp4.cycle = cycle,
            Some(Format::Flv) => t.flv.cycle = cycle,
            Some(Format::M3u8) => t.m3u8.cycle = cycle,
            None => {}
        }
    }
    Some(t)
}

fn parse_format(name: &str) -> Option<Format> {
    match name.to_ascii_lowercase().as_str() {
        "mp4" => Some(Format::Mp4),
        "flv" => Some(Format::Flv),
        "m3u8" | "hls" | "ts" => Some(Format::M3u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template {
            formats: vec![Format::M3u8, Format::Mp4, Format::Flv],
            ..Template::default()
        }
    }

    #[test]
    fn decisions_shape_the_template() {
        let d: Decision = serde_json::from_str(
            r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300},"Format":["mp4"]}"#,
        )
        .unwrap();
        let t = apply(&template(), &d).unwrap();
        assert_eq!(t.formats, vec![Format::Mp4]);
        assert_eq!(t.mp4.cycle, Secs(300));
        let no: Decision = serde_json::from_str(r#"{"NeedRecord":false}"#).unwrap();
        assert!(apply(&template(), &no).is_none());
        let other: Decision = serde_json::from_str(r#"{"Format":["avi"]}"#).unwrap();
        assert!(
            apply(&template(), &other).is_none(),
            "no format left: nothing to record"
        );
        let clamp: Decision =
            serde_json::from_str(r#"{"Interval":{"Flv":1,"HLS":999999}}"#).unwrap();
        let t = apply(&template(), &clamp).unwrap();
        assert_eq!((t.flv.cycle, t.m3u8.cycle), (Secs(10), Secs(21600)));
        assert_eq!(t.formats.len(), 3, "no Format: the template's");
    }
}
