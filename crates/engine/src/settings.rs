//! Config as data, for the app's Templates, Storage and Settings screens: each edit loads
//! `tapedeck.toml` as a document, changes one part, validates the whole, and writes it
//! atomically with the user's comments kept ([`tapedeck_config::document`]). A running
//! engine picks the file up through its watcher, as it does a hand edit. These work
//! without a running engine (the app lets a user fix the port an engine failed on).

use std::path::Path;

use chrono::Utc;
use tapedeck_config::config::Template;
use tapedeck_config::document::{ConfigDocument, DocumentError};
use tapedeck_config::preview::NamePreview;
use tapedeck_config::{Config, ConfigError, Problem, StorageProfile};

use crate::error::{EngineError, ErrorKind};

impl From<DocumentError> for EngineError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Invalid(problems) => EngineError::problems(
                match problems.as_slice() {
                    [one] if one.field.is_empty() => one.message.clone(),
                    [one] => format!("{} (nothing was saved)", one.message),
                    _ => format!(
                        "{} settings need fixing (nothing was saved)",
                        problems.len()
                    ),
                },
                problems,
            ),
            DocumentError::BuiltIn => EngineError::conflict(e.to_string()),
            DocumentError::NoSuchEntry { .. } | DocumentError::NoSuchProfile(_) => {
                EngineError::not_found(e.to_string())
            }
            DocumentError::Config(c) => config_error(c),
            DocumentError::Write { .. } => EngineError::io(e.to_string()),
            DocumentError::Serialize(_) => EngineError::internal(e.to_string()),
        }
    }
}

/// A configuration that cannot be read or is not valid, as the engine's error.
pub fn config_error(e: ConfigError) -> EngineError {
    match e {
        ConfigError::Invalid { problems, .. } => EngineError::problems(
            format!("the configuration has {} problem(s)", problems.len()),
            problems,
        ),
        ConfigError::Parse { .. } => EngineError::invalid(e.to_string()),
        ConfigError::Read { .. } => EngineError::new(ErrorKind::Io, e.to_string()),
    }
}

/// The configuration file at `path` (every default when it does not exist yet).
pub fn load(path: &Path) -> Result<Config, EngineError> {
    ConfigDocument::load(path)
        .map_err(config_error)?
        .config()
        .map_err(config_error)
}

/// Applies `edit` to the document at `path`, validates and saves it. Nothing is written
/// when the result has a problem.
pub fn edit(
    path: &Path,
    edit: impl FnOnce(&mut ConfigDocument) -> Result<(), DocumentError>,
) -> Result<Config, EngineError> {
    let mut doc = ConfigDocument::load(path).map_err(config_error)?;
    edit(&mut doc)?;
    Ok(doc.save()?)
}

/// Problems `template` would have as template `index` (`None`: a new one), named by
/// field (`template[2].m3u8.cycle`). Empty: valid. Nothing is written.
pub fn validate_template(
    path: &Path,
    template: &Template,
    index: Option<usize>,
) -> Result<Vec<Problem>, EngineError> {
    let mut doc = ConfigDocument::load(path).map_err(config_error)?;
    doc.set_template(index, template)?;
    let at = match index {
        Some(i) => i,
        None => doc.config().map(|c| c.template.len() - 1).unwrap_or(0),
    };
    let prefix = format!("template[{at}]");
    match doc.checked() {
        Ok(_) => Ok(Vec::new()),
        // Problems elsewhere in the file are not this template's to show.
        Err(DocumentError::Invalid(problems)) => Ok(problems
            .into_iter()
            .filter(|p| p.field.starts_with(&prefix) || p.field.is_empty())
            .collect()),
        Err(e) => Err(e.into()),
    }
}

pub fn save_template(
    path: &Path,
    template: &Template,
    index: Option<usize>,
) -> Result<Config, EngineError> {
    edit(path, |d| d.set_template(index, template).map(|_| ()))
}

pub fn delete_template(path: &Path, index: usize) -> Result<Config, EngineError> {
    edit(path, |d| d.remove_template(index))
}

pub fn save_storage(
    path: &Path,
    profile: &StorageProfile,
    index: Option<usize>,
) -> Result<Config, EngineError> {
    edit(path, |d| d.set_storage(index, profile).map(|_| ()))
}

pub fn delete_storage(path: &Path, name: &str) -> Result<Config, EngineError> {
    edit(path, |d| d.remove_storage(name))
}

/// The name preview for `app`/`stream` under the configuration at `path`, with `draft`
/// standing in for template `index` when given (what the Templates screen is editing).
pub fn preview(
    config: &Config,
    app: &str,
    stream: &str,
    draft: Option<(&Template, Option<usize>)>,
) -> NamePreview {
    tapedeck_config::preview::names(config, app, stream, Utc::now(), draft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapedeck_config::Secs;

    #[test]
    fn an_invalid_template_is_refused_by_field_and_the_file_stays() {
        let dir = std::env::temp_dir().join(format!("tapedeck-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tapedeck.toml");
        let text = "# mine\n[[template]]\napp = \"live\" # the main app\nstream = \"*\"\n";
        std::fs::write(&path, text).unwrap();
        let mut t = load(&path).unwrap().template[0].clone();
        t.m3u8.slice_duration = Secs(0);
        let problems = validate_template(&path, &t, Some(0)).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "template[0].m3u8.slice_duration");
        let e = save_template(&path, &t, Some(0)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.problems[0].field, "template[0].m3u8.slice_duration");
        assert!(e.message.ends_with("(nothing was saved)"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        t.m3u8.slice_duration = Secs(10);
        save_template(&path, &t, Some(0)).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(
            saved.starts_with("# mine\n[[template]]\napp = \"live\" # the main app\n"),
            "{saved}"
        );
        assert!(saved.contains("slice_duration = \"10s\""), "{saved}");
        assert_eq!(
            delete_template(&path, 3).unwrap_err().kind,
            ErrorKind::NotFound
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
