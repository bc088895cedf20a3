//! `tapedeck.toml` as an editable document: the app's Templates, Storage and Settings
//! screens change one part of it at a time, and the user's comments, key order and
//! formatting stay where they were (`toml_edit`). Every save is validated first (each
//! problem names its field; nothing is written when there is one) and written atomically
//! (a temporary file in the same folder, flushed, then renamed over the old one), so the
//! running engine's watcher only ever sees a whole, valid file.
//!
//! A typed value (a [`Template`], a [`StorageProfile`], `[ingest]`...) is merged into the
//! document key by key: keys whose value did not change are left alone (comments and
//! all), changed ones get the new value with the old key's comments, keys the value no
//! longer has are removed, and new keys are added only when they differ from the default
//! (a new template does not spell out every default).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config::{Config, ConfigError, Problem, Template};
use crate::profile::StorageProfile;

/// An edit that could not be made or saved.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The edit leaves the configuration invalid: nothing was written.
    #[error("the configuration would have {} problem(s): {}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("there is no {what} number {index} (there are {count})")]
    NoSuchEntry {
        what: &'static str,
        index: usize,
        count: usize,
    },
    #[error("the built-in template (every app and stream) applies while the file has none of its own; add a template first, then delete this one")]
    BuiltIn,
    #[error("there is no storage profile named {0:?}")]
    NoSuchProfile(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot turn the value into TOML: {0}")]
    Serialize(String),
}

/// `tapedeck.toml`, its text kept as the user wrote it.
#[derive(Clone, Debug)]
pub struct ConfigDocument {
    doc: DocumentMut,
    /// For messages (and `save_to` callers): where it came from.
    path: PathBuf,
}

impl ConfigDocument {
    /// Reads `path`; a file that does not exist yet is an empty document (every default).
    pub fn load(path: &Path) -> Result<ConfigDocument, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        ConfigDocument::parse(&text, path)
    }

    /// Parses TOML text (not validated: see [`ConfigDocument::config`]).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigDocument, ConfigError> {
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(ConfigDocument {
            doc,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration this document holds, validated.
    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::from_toml(&self.doc.to_string(), &self.path)
    }

    /// Replaces template `index` (`None`: adds one at the end). Returns its index.
    pub fn set_template(
        &mut self,
        index: Option<usize>,
        template: &Template,
    ) -> Result<usize, DocumentError> {
        let new = to_table(template)?;
        let defaults = to_table(&Template::default())?;
        // A file without `[[template]]` records with the built-in one (every app and
        // stream), which the app shows as template 0: editing it writes it out.
        let index = match index {
            Some(0) if self.template_count() == 0 => None,
            i => i,
        };
        set_entry(
            &mut self.doc,
            "template",
            "template",
            index,
            &new,
            &defaults,
            &["app", "stream"],
        )
    }

    /// Removes template `index`.
    pub fn remove_template(&mut self, index: usize) -> Result<(), DocumentError> {
        if self.template_count() == 0 {
            return Err(DocumentError::BuiltIn);
        }
        remove_entry(&mut self.doc, "template", "template", index)
    }

    /// `[[template]]` tables in the file (0: the built-in template applies).
    pub fn template_count(&self) -> usize {
        self.doc
            .get("template")
            .and_then(Item::as_array_of_tables)
            .map_or(0, ArrayOfTables::len)
    }

    /// Replaces storage profile `index` (`None`: adds one). Returns its index.
    pub fn set_storage(
        &mut self,
        index: Option<usize>,
        profile: &StorageProfile,
    ) -> Result<usize, DocumentError> {
        let new = to_table(profile)?;
        set_entry(
            &mut self.doc,
            "storage",
            "storage profile",
            index,
            &new,
            &Table::new(),
            &[],
        )
    }

    /// Removes the storage profile named `name`.
    pub fn remove_storage(&mut self, name: &str) -> Result<(), DocumentError> {
        let index = self
            .doc
            .get("storage")
            .and_then(Item::as_array_of_tables)
            .and_then(|a| {
                a.iter()
                    .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
            })
            .ok_or_else(|| DocumentError::NoSuchProfile(name.to_string()))?;
        remove_entry(&mut self.doc, "storage", "storage profile", index)
    }

    /// Sets a top-level table (`ingest`, `callback`, `control`, `runs`) from its typed value.
    pub fn set_table<T: Serialize + Default>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), DocumentError> {
        let new = to_table(value)?;
        let defaults = to_table(&T::default())?;
        if !self.doc.contains_key(key) {
            if tables_equal(&new, &defaults) {
                return Ok(());
            }
            self.doc.insert(key, Item::Table(Table::new()));
        }
        match self.doc.get_mut(key) {
            Some(Item::Table(old)) => merge(old, &new, &defaults),
            Some(other) => *other = Item::Table(new),
            None => {}
        }
        Ok(())
    }

    /// Sets a top-level value (`data_dir`, `low_space_warning`); `None` removes it (the
    /// default applies).
    pub fn set_value<T: Serialize>(
        &mut self,
        key: &str,
        value: Option<&T>,
    ) -> Result<(), DocumentError> {
        match value {
            None => {
                self.doc.remove(key);
            }
            Some(v) => {
                let mut wrapper = Table::new();
                let t = to_table(&Single { value: v })?;
                if let Some(item) = t.get("value") {
                    wrapper.insert(key, item.clone());
                }
                merge_key(self.doc.as_table_mut(), key, wrapper.get(key), None);
            }
        }
        Ok(())
    }

    /// Replaces a whole array of tables (`watch`, `pull`) with `items`; entries that did
    /// not change keep their comments.
    pub fn set_list<T: Serialize>(&mut self, key: &str, items: &[T]) -> Result<(), DocumentError> {
        let new: Vec<Table> = items.iter().map(to_table).collect::<Result<_, _>>()?;
        if new.is_empty() {
            self.doc.remove(key);
            return Ok(());
        }
        let mut aot = match self.doc.remove(key) {
            Some(Item::ArrayOfTables(a)) => a,
            _ => ArrayOfTables::new(),
        };
        while aot.len() > new.len() {
            aot.remove(aot.len() - 1);
        }
        for (i, t) in new.iter().enumerate() {
            match aot.get_mut(i) {
                Some(old) => merge(old, t, &Table::new()),
                None => aot.push(t.clone()),
            }
        }
        self.doc.insert(key, Item::ArrayOfTables(aot));
        Ok(())
    }

    /// Validates, then writes the document to its path atomically. Returns the
    /// configuration written. On a problem nothing is written.
    pub fn save(&self) -> Result<Config, DocumentError> {
        let config = self.checked()?;
        write_atomically(&self.path, self.doc.to_string().as_bytes())?;
        Ok(config)
    }

    /// The configuration after the edits, or every problem with it (nothing written).
    pub fn checked(&self) -> Result<Config, DocumentError> {
        match self.config() {
            Ok(c) => Ok(c),
            Err(ConfigError::Invalid { problems, .. }) => Err(DocumentError::Invalid(problems)),
            Err(ConfigError::Parse { message, .. }) => Err(DocumentError::Invalid(vec![Problem {
                field: String::new(),
                message,
            }])),
            Err(e) => Err(e.into()),
        }
    }
}

impl std::fmt::Display for ConfigDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.doc)
    }
}

#[derive(Serialize)]
struct Single<'a, T: Serialize> {
    value: &'a T,
}

/// Writes `bytes` to `path` through a temporary file in the same folder (renamed over
/// the old file once flushed to disk), so readers see the old file or the new, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DocumentError> {
    let err = |source| DocumentError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tapedeck.toml".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder (best effort: not every
        // platform can open a folder).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

fn to_table<T: Serialize>(value: &T) -> Result<Table, DocumentError> {
    let doc =
        toml_edit::ser::to_document(value).map_err(|e| DocumentError::Serialize(e.to_string()))?;
    let mut t = doc.as_table().clone();
    normalize(&mut t);
    Ok(t)
}

/// The serializer writes nested structs inline (`m3u8 = { ... }`); a user's file has them
/// as `[template.m3u8]` sections. Merging compares like with like: sections.
fn normalize(t: &mut Table) {
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        let Some(item) = t.get_mut(&k) else { continue };
        let replacement = match item {
            Item::Value(toml_edit::Value::InlineTable(it)) => {
                let mut sub = it.clone().into_table();
                normalize(&mut sub);
                Some(Item::Table(sub))
            }
            Item::Value(toml_edit::Value::Array(a))
                if !a.is_empty() && a.iter().all(|v| v.is_inline_table()) =>
            {
                let mut aot = ArrayOfTables::new();
                for v in a.iter() {
                    if let toml_edit::Value::InlineTable(it) = v {
                        let mut sub = it.clone().into_table();
                        normalize(&mut sub);
                        aot.push(sub);
                    }
                }
                Some(Item::ArrayOfTables(aot))
            }
            _ => None,
        };
        if let Some(r) = replacement {
            *item = r;
        }
    }
}

fn set_entry(
    doc: &mut DocumentMut,
    key: &str,
    what: &'static str,
    index: Option<usize>,
    new: &Table,
    defaults: &Table,
    always: &[&str],
) -> Result<usize, DocumentError> {
    if !matches!(doc.get(key), Some(Item::ArrayOfTables(_))) {
        doc.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let Some(Item::ArrayOfTables(aot)) = doc.get_mut(key) else {
        return Err(DocumentError::Serialize(format!(
            "{key} is not a list of tables"
        )));
    };
    match index {
        Some(i) => {
            let count = aot.len();
            let old = aot.get_mut(i).ok_or(DocumentError::NoSuchEntry {
                what,
                index: i,
                count,
            })?;
            merge(old, new, defaults);
            Ok(i)
        }
        None => {
            let mut t = Table::new();
            for k in always {
                if let Some(v) = new.get(k) {
                    t.insert(k, v.clone());
                }
            }
            merge(&mut t, new, defaults);
            aot.push(t);
            Ok(aot.len() - 1)
        }
    }
}

fn remove_entry(
    doc: &mut DocumentMut,
    key: &str,
    what: &'static str,
    index: usize,
) -> Result<(), DocumentError> {
    let count = doc
        .get(key)
        .and_then(Item::as_array_of_tables)
        .map_or(0, ArrayOfTables::len);
    if index >= count {
        return Err(DocumentError::NoSuchEntry { what, index, count });
    }
    if let Some(Item::ArrayOfTables(aot)) = doc.get_mut(key) {
        aot.remove(index);
        if aot.is_empty() {
            doc.remove(key);
        }
    }
    Ok(())
}

/// Merges `new` into `old` (see the module documentation).
fn merge(old: &mut Table, new: &Table, defaults: &Table) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for k in gone {
        old.remove(&k);
    }
    for (k, v) in new.iter() {
        merge_key(old, k, Some(v), defaults.get(k));
    }
}

fn merge_key(old: &mut Table, key: &str, new: Option<&Item>, default: Option<&Item>) {
    let Some(new) = new else {
        old.remove(key);
        return;
    };
    match (old.get_mut(key), new) {
        (Some(Item::Table(ot)), Item::Table(nt)) => {
            let empty = Table::new();
            let dt = default.and_then(Item::as_table).unwrap_or(&empty);
            merge(ot, nt, dt);
        }
        // A sub-table written inline (`m3u8 = { ... }`) stays inline.
        (Some(Item::Value(toml_edit::Value::InlineTable(ot))), Item::Table(nt)) => {
            let mut t = ot.clone().into_table();
            let empty = Table::new();
            let dt = default.and_then(Item::as_table).unwrap_or(&empty);
            merge(&mut t, nt, dt);
            let mut inline = t.into_inline_table();
            *inline.decor_mut() = ot.decor().clone();
            *ot = inline;
        }
        (Some(Item::Value(ov)), Item::Value(nv)) => {
            if !values_equal(ov, nv) {
                let decor = ov.decor().clone();
                let mut v = nv.clone();
                *v.decor_mut() = decor;
                *ov = v;
            }
        }
        (Some(slot), _) => {
            *slot = new.clone();
        }
        (None, Item::Table(nt)) => {
            let empty = Table::new();
            let dt = default.and_then(Item::as_table).unwrap_or(&empty);
            if !tables_equal(nt, dt) {
                // Only what differs from the defaults.
                let mut t = Table::new();
                for (k, v) in nt.iter() {
                    merge_key(&mut t, k, Some(v), dt.get(k));
                }
                old.insert(key, Item::Table(t));
            }
        }
        (None, _) => {
            let is_default = match (new, default) {
                (Item::Value(a), Some(Item::Value(b))) => values_equal(a, b),
                (Item::Table(a), Some(Item::Table(b))) => tables_equal(a, b),
                _ => false,
            };
            if !is_default {
                old.insert(key, new.clone());
            }
        }
    }
}

/// Same TOML value, however it is written.
fn values_equal(a: &toml_edit::Value, b: &toml_edit::Value) -> bool {
    let parse = |v: &toml_edit::Value| {
        let mut v = v.clone();
        v.decor_mut().clear();
        format!("v = {v}").parse::<toml::Table>().ok()
    };
    parse(a) == parse(b)
}

fn tables_equal(a: &Table, b: &Table) -> bool {
    let parse = |t: &Table| t.to_string().parse::<toml::Table>().ok();
    parse(a) == parse(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Secs;

    const COMMENTED: &str = r#"# Tapedeck at home
data_dir = "/srv/rec"   # the big disk

[ingest]
# OBS on the LAN
rtmp_listen = "0.0.0.0:1935"

# Every stream of the studio app
[[template]]
app = "studio"   # the studio
stream = "*"
formats = ["m3u8", "mp4"]

[template.m3u8]
slice_duration = "10s"   # short for quick previews

# Everything else
[[template]]
app = "*"
stream = "*"
"#;

    fn doc() -> ConfigDocument {
        ConfigDocument::parse(COMMENTED, Path::new("tapedeck.toml")).unwrap()
    }

    #[test]
    fn an_edit_keeps_every_comment_and_the_order() {
        let mut d = doc();
        let config = d.config().unwrap();
        let mut t = config.template[0].clone();
        t.m3u8.slice_duration = Secs(20);
        d.set_template(Some(0), &t).unwrap();
        let text = d.to_string();
        for line in [
            "# Tapedeck at home",
            "data_dir = \"/srv/rec\"   # the big disk",
            "# OBS on the LAN",
            "# Every stream of the studio app",
            "app = \"studio\"   # the studio",
            "# Everything else",
        ] {
            assert!(text.contains(line), "{line:?} lost:\n{text}");
        }
        assert!(
            text.contains("slice_duration = \"20s\"   # short for quick previews"),
            "{text}"
        );
        // No defaults spelled out.
        assert!(!text.contains("interruption_window"), "{text}");
        assert!(!text.contains("daily_object"), "{text}");
        assert_eq!(
            d.config().unwrap().template[0].m3u8.slice_duration,
            Secs(20)
        );
        // The studio template still comes first.
        assert!(text.find("app = \"studio\"").unwrap() < text.find("app = \"*\"").unwrap());
    }

    #[test]
    fn an_unchanged_save_is_the_same_text() {
        let mut d = doc();
        let config = d.config().unwrap();
        for (i, t) in config.template.iter().enumerate() {
            d.set_template(Some(i), t).unwrap();
        }
        d.set_table("ingest", &config.ingest).unwrap();
        assert_eq!(d.to_string(), COMMENTED);
    }

    #[test]
    fn a_new_template_is_added_and_one_removed() {
        let mut d = doc();
        let t = Template {
            app: "live".into(),
            stream: "cam1".into(),
            ..Template::default()
        };
        assert_eq!(d.set_template(None, &t).unwrap(), 2);
        let c = d.checked().unwrap();
        assert_eq!(c.template.len(), 3);
        assert_eq!(c.template[2].app, "live");
        assert!(
            d.to_string()
                .ends_with("[[template]]\napp = \"live\"\nstream = \"cam1\"\n"),
            "{d}"
        );
        d.remove_template(0).unwrap();
        assert_eq!(d.checked().unwrap().template[0].app, "*");
        assert!(matches!(
            d.remove_template(7),
            Err(DocumentError::NoSuchEntry {
                index: 7,
                count: 2,
                ..
            })
        ));
    }

    #[test]
    fn an_invalid_edit_names_the_field_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("tapedeck-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tapedeck.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        let mut d = ConfigDocument::load(&path).unwrap();
        let mut t = d.config().unwrap().template[0].clone();
        t.m3u8.slice_duration = Secs(500);
        d.set_template(Some(0), &t).unwrap();
        match d.save() {
            Err(DocumentError::Invalid(problems)) => {
                assert_eq!(
                    problems[0].field, "template[0].m3u8.slice_duration",
                    "{problems:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
        // A valid one is written, whole.
        t.m3u8.slice_duration = Secs(15);
        d.set_template(Some(0), &t).unwrap();
        d.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("slice_duration = \"15s\"   # short"),
            "{text}"
        );
        assert!(text.starts_with("# Tapedeck at home"));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_built_in_template_is_written_out_when_edited() {
        let mut d = ConfigDocument::parse("# only a comment\n", Path::new("t.toml")).unwrap();
        let mut t = d.config().unwrap().template[0].clone();
        t.interruption_window = Secs(60);
        assert_eq!(d.set_template(Some(0), &t).unwrap(), 0);
        assert!(
            d.to_string().contains(
                "[[template]]\napp = \"*\"\nstream = \"*\"\ninterruption_window = \"1m\"\n"
            ),
            "{d}"
        );
        let mut empty = ConfigDocument::parse("", Path::new("t.toml")).unwrap();
        assert!(matches!(
            empty.remove_template(0),
            Err(DocumentError::BuiltIn)
        ));
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_values_go_at_the_top() {
        let mut d = ConfigDocument::parse("", Path::new("new.toml")).unwrap();
        d.set_value("data_dir", Some(&PathBuf::from("/home/me/Videos/Tapedeck")))
            .unwrap();
        let ingest = crate::config::IngestConfig {
            publish_key: "s3cret".into(),
            ..Default::default()
        };
        d.set_table("ingest", &ingest).unwrap();
        let text = d.to_string();
        assert!(
            text.contains("data_dir = \"/home/me/Videos/Tapedeck\""),
            "{text}"
        );
        assert!(
            text.contains("[ingest]\npublish_key = \"s3cret\"\n"),
            "{text}"
        );
        let c = d.checked().unwrap();
        assert_eq!(c.ingest.publish_key, "s3cret");
        d.set_value::<PathBuf>("data_dir", None).unwrap();
        assert!(!d.to_string().contains("data_dir"));
    }
}
