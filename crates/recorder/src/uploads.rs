//! Which bucket a template's files go to and how long their local copies stay: the rule
//! every writer applies when it queues a finished file's upload (in the same catalog
//! transaction that records the file).

use std::path::Path;

use tapedeck_catalog::NewUpload;
use tapedeck_config::KeepLocal;

use crate::config::{Config, Template};

#[derive(Clone, Debug, PartialEq)]
pub struct UploadRule {
    /// The storage profile's name.
    pub profile: String,
    pub keep_local: KeepLocal,
    /// The template's `app/stream` pattern: files sharing a `keep_local_max` budget.
    pub keep_group: String,
    pub keep_max: Option<u64>,
}

impl UploadRule {
    /// The rule of `template`, when it names a storage profile.
    pub fn of(config: &Config, template: &Template) -> Option<UploadRule> {
        config.storage_for(template)?;
        UploadRule::of_template(template)
    }

    /// The rule of a template that names a storage profile (validated to exist when the
    /// configuration was loaded).
    pub fn of_template(template: &Template) -> Option<UploadRule> {
        (!template.storage.is_empty()).then(|| UploadRule {
            profile: template.storage.clone(),
            keep_local: template.keep_local,
            keep_group: format!("{}/{}", template.app, template.stream),
            keep_max: template.keep_local_max.map(|m| m.0),
        })
    }

    /// The queue entry of a finished file at `path` (under the recordings folder as `key`).
    /// `None` when the file cannot be read (nothing to upload).
    pub fn entry(
        &self,
        key: &str,
        path: &Path,
        kind: tapedeck_catalog::FileKind,
        app: &str,
        stream: &str,
    ) -> Option<NewUpload> {
        let meta = std::fs::metadata(path).ok()?;
        Some(NewUpload {
            profile: self.profile.clone(),
            key: key.to_string(),
            path: path.to_string_lossy().into_owned(),
            kind,
            group: format!("{app}/{stream}"),
            bytes: meta.len(),
            mtime_ms: tapedeck_catalog::mtime_ms(&meta),
            keep_local: self.keep_local.to_stored(),
            keep_group: self.keep_group.clone(),
            keep_max: self.keep_max,
            queued_ms: chrono::Utc::now().timestamp_millis(),
        })
    }
}
