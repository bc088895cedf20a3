//! `tapedeck.toml`: the typed configuration and its validation.
//!
//! The shape is a public contract (users' files and scripts depend on it): fields may be
//! added, never renamed. Unknown keys are errors, and [`Config::validate`] returns every
//! problem at once, each naming its field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::profile::StorageProfile;
use crate::units::{ByteSize, KeepLocal};

use crate::duration::Secs;
use crate::naming;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where recordings and state live. Default `./tapedeck-data`; recordings go to
    /// `data_dir/recordings/<key>`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Warn (log and event) once the recordings' disk has less free space than this, like
    /// `"5GB"`. Default `"5GB"`; `"0"` turns the warning off; at most 1 PB.
    #[serde(default = "default_low_space_warning")]
    pub low_space_warning: ByteSize,
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Remote streams to pull and record. Default: none.
    #[serde(default)]
    pub pull: Vec<PullConfig>,
    /// Recording templates. Default (no `[[template]]` at all): one `*`/`*` template that
    /// records every stream as m3u8 + mp4 with the seed's names.
    #[serde(default = "default_templates")]
    pub template: Vec<Template>,
    /// HTTP callbacks. Default: none.
    #[serde(default)]
    pub callback: CallbackConfig,
    /// The local control API (what `tapedeck record start|stop` and the app use).
    #[serde(default)]
    pub control: ControlConfig,
    /// Buckets that templates upload to (`storage = "name"`). Default: none, so files
    /// stay in the local folder only.
    #[serde(default)]
    pub storage: Vec<StorageProfile>,
    /// Folders whose new files are uploaded and catalogued like Tapedeck's own (for
    /// example OBS's own recording folder). Default: none.
    #[serde(default)]
    pub watch: Vec<WatchConfig>,
    /// Post-recording commands (`[[template.run]]`): how many run at once.
    #[serde(default)]
    pub runs: crate::run::RunsConfig,
}

/// `[[watch]]`: a folder whose finished files are uploaded under a template's key.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The folder (not its subfolders).
    pub path: PathBuf,
    /// The AppName and StreamName its files are filed under; the template for them
    /// chooses the storage profile and retention.
    pub app: String,
    pub stream: String,
    /// Key of each file, without extension (the file's own is kept). Default: the
    /// template's `mp4.object`, with the file's modification time as its end.
    #[serde(default)]
    pub object: String,
    /// A file counts as complete once its size and time have not changed for this long
    /// and no process has it open for writing. Default `10s`; 1 s to 1 h.
    #[serde(default = "default_settle")]
    pub settle: Secs,
    /// Extensions taken (others are ignored), without the dot; at least one. Default: mp4,
    /// mkv, mov, flv, ts, m4a, aac, mp3, wav.
    #[serde(default = "default_watch_extensions")]
    pub extensions: Vec<String>,
    /// Delete each file from this folder once the bucket confirmed its upload. Default
    /// false: a watched file is the user's original (an OBS recording) and stays, whatever
    /// the template's `keep_local` says (that applies to Tapedeck's own recordings).
    #[serde(default)]
    pub delete_after_upload: bool,
}

fn default_settle() -> Secs {
    Secs(10)
}

fn default_watch_extensions() -> Vec<String> {
    ["mp4", "mkv", "mov", "flv", "ts", "m4a", "aac", "mp3", "wav"]
        .map(String::from)
        .to_vec()
}

/// `[control]`: the control API, an HTTP server for this machine only.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Listen address; it must be a loopback address with a port (not 0: clients must find
    /// it). Default `127.0.0.1:8935`; `""` turns the API off.
    #[serde(default = "default_control_listen")]
    pub listen: String,
}

fn default_control_listen() -> String {
    "127.0.0.1:8935".into()
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: default_control_listen(),
        }
    }
}

/// `[callback]`: an HTTP POST with a JSON body for every finished file, and for status
/// events when `status_events` is on.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// Receiver URL; empty (the default) sends nothing.
    #[serde(default)]
    pub url: String,
    /// When set, each request carries `X-Tapedeck-Signature: sha256=<hex HMAC-SHA256 of
    /// "<X-Tapedeck-Timestamp>.<body>">`. Default empty.
    #[serde(default)]
    pub secret: String,
    /// Also send `record_started`, `record_paused`, `record_resumed`, `record_stopped`.
    /// Default false.
    #[serde(default)]
    pub status_events: bool,
    /// The `domain` field of every payload. Default `localhost`.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// On-demand recording: asked (GET) before each recording whether and how to record.
    /// Default empty: every matching stream is recorded by its template.
    #[serde(default)]
    pub on_demand_url: String,
}

fn default_domain() -> String {
    "localhost".into()
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            url: String::new(),
            secret: String::new(),
            status_events: false,
            domain: default_domain(),
            on_demand_url: String::new(),
        }
    }
}

fn default_low_space_warning() -> ByteSize {
    ByteSize(5_000_000_000)
}

/// The largest `low_space_warning`: more than any disk a recorder writes to holds.
pub const MAX_LOW_SPACE_WARNING: u64 = 1_000_000_000_000_000;

fn default_data_dir() -> PathBuf {
    PathBuf::from("./tapedeck-data")
}

fn default_templates() -> Vec<Template> {
    vec![Template::default()]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            low_space_warning: default_low_space_warning(),
            ingest: IngestConfig::default(),
            pull: Vec::new(),
            template: default_templates(),
            callback: CallbackConfig::default(),
            control: ControlConfig::default(),
            storage: Vec::new(),
            watch: Vec::new(),
            runs: crate::run::RunsConfig::default(),
        }
    }
}

/// `[ingest]`: the local RTMP server.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Listen address. Default `127.0.0.1:1935` (loopback only: set `0.0.0.0:1935` to accept
    /// publishers from other machines). Port 0 takes any free port (the log names it).
    #[serde(default = "default_listen")]
    pub rtmp_listen: String,
    /// When not empty, publishers must add `?key=<publish_key>` to the stream name. At most
    /// 256 of the characters a query can carry as they are: letters, digits, `-`, `.`,
    /// `_`, `~`. Default empty.
    #[serde(default)]
    pub publish_key: String,
    /// A publisher silent for this long is dropped. Default `15s`; 2 s to 1 h.
    #[serde(default = "default_idle")]
    pub idle_timeout: Secs,
    /// A connection that has not started publishing this long after its handshake is
    /// closed. Default `20s`; 1 s to 10 min.
    #[serde(default = "default_setup")]
    pub setup_timeout: Secs,
    /// How many RTMP connections are served at once (publishers and connections still
    /// setting up); more are closed as they arrive. Default 256; 1 to 65536.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How many of those may be connections that have not started publishing yet (a
    /// handshake or `connect` in progress): a flood of idle connections cannot crowd out
    /// publishers. Default 64; 1 to `max_connections`.
    #[serde(default = "default_max_pending_connections")]
    pub max_pending_connections: u32,
}

fn default_max_connections() -> u32 {
    256
}

fn default_max_pending_connections() -> u32 {
    64
}

fn default_setup() -> Secs {
    Secs(20)
}

fn default_listen() -> String {
    "127.0.0.1:1935".into()
}

fn default_idle() -> Secs {
    Secs(15)
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            rtmp_listen: default_listen(),
            publish_key: String::new(),
            idle_timeout: default_idle(),
            setup_timeout: default_setup(),
            max_connections: default_max_connections(),
            max_pending_connections: default_max_pending_connections(),
        }
    }
}

/// `[[pull]]`: a remote stream recorded as if it were published locally.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    /// `rtmp://`, `http(s)://...flv` (HTTP-FLV) or `http(s)://...m3u8` (HLS).
    pub url: String,
    pub app: String,
    pub stream: String,
}

/// A container format a template records.
#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    M3u8,
    Mp4,
    Flv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::M3u8 => "m3u8",
            Format::Mp4 => "mp4",
            Format::Flv => "flv",
        }
    }
}

pub const DEFAULT_OBJECT: &str =
    "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}";
pub const DEFAULT_SLICE_OBJECT: &str = "record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}";

/// `[[template]]`: how the streams it matches are recorded.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// AppName to match, or `*` for every app. Default `*`.
    #[serde(default = "star")]
    pub app: String,
    /// StreamName to match, or `*` for every stream of the app. Default `*`.
    #[serde(default = "star")]
    pub stream: String,
    /// Formats to record. Default `["m3u8", "mp4"]`.
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
    /// A stream that comes back within this time continues the same recording. Default
    /// `180s`; 0 to 21600 s.
    #[serde(default = "default_window")]
    pub interruption_window: Secs,
    /// IANA time zone of the date and time placeholders and of day boundaries, like
    /// `"Europe/Berlin"`. Default `"UTC"`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub m3u8: M3u8Options,
    #[serde(default)]
    pub mp4: FileOptions,
    #[serde(default)]
    pub flv: FileOptions,
    /// The `[[storage]]` profile its files are uploaded to. Default empty: local only.
    #[serde(default)]
    pub storage: String,
    /// How long local copies stay once their upload is confirmed: `"forever"` (default),
    /// `"until_uploaded"`, or an age like `"7d"` (at most 36500d). Playlists and indexes
    /// always stay, and so do files of `[[watch]]` folders (see `delete_after_upload`).
    #[serde(default)]
    pub keep_local: KeepLocal,
    /// Local copies of this template's files beyond this size are deleted, oldest
    /// confirmed upload first, like `"200GB"`. Default: no limit.
    #[serde(default)]
    pub keep_local_max: Option<ByteSize>,
    /// Commands run on each finished file (`[[template.run]]`, see `crate::run`).
    /// Default: none.
    #[serde(default)]
    pub run: Vec<crate::run::RunConfig>,
}

fn star() -> String {
    "*".into()
}

fn default_formats() -> Vec<Format> {
    vec![Format::M3u8, Format::Mp4]
}

fn default_window() -> Secs {
    Secs(180)
}

fn default_timezone() -> String {
    "UTC".into()
}

impl Default for Template {
    fn default() -> Self {
        Template {
            app: star(),
            stream: star(),
            formats: default_formats(),
            interruption_window: default_window(),
            timezone: default_timezone(),
            m3u8: M3u8Options::default(),
            mp4: FileOptions::default(),
            flv: FileOptions::default(),
            storage: String::new(),
            keep_local: KeepLocal::Forever,
            keep_local_max: None,
            run: Vec::new(),
        }
    }
}

impl Template {
    /// The template's time zone (UTC when the name is invalid, which `validate` reports).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Tz::UTC)
    }
}

/// `[template.m3u8]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct M3u8Options {
    /// Playlist name. Default `record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}`.
    #[serde(default = "default_object")]
    pub object: String,
    /// Segment name. Default `record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}`.
    #[serde(default = "default_slice_object")]
    pub slice_object: String,
    /// Target segment length; segments cut at the first key frame after it. Default `30s`; 1-60 s.
    #[serde(default = "default_slice")]
    pub slice_duration: Secs,
    /// A new playlist starts after this long. Default `6h`; 10 s to 6 h.
    #[serde(default = "default_cycle")]
    pub cycle: Secs,
    /// The daily index: every segment of a day (in the template's time zone) in one
    /// playlist. Default `{AppName}/{StreamName}/{Date}`; `""` turns it off.
    #[serde(default = "default_daily_object")]
    pub daily_object: String,
}

pub const DEFAULT_DAILY_OBJECT: &str = "{AppName}/{StreamName}/{Date}";

fn default_daily_object() -> String {
    DEFAULT_DAILY_OBJECT.into()
}

fn default_object() -> String {
    DEFAULT_OBJECT.into()
}

fn default_slice_object() -> String {
    DEFAULT_SLICE_OBJECT.into()
}

fn default_slice() -> Secs {
    Secs(30)
}

fn default_cycle() -> Secs {
    Secs(6 * 3600)
}

impl Default for M3u8Options {
    fn default() -> Self {
        M3u8Options {
            object: default_object(),
            slice_object: default_slice_object(),
            slice_duration: default_slice(),
            cycle: default_cycle(),
            daily_object: default_daily_object(),
        }
    }
}

/// `[template.mp4]` and `[template.flv]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// File name. Default `record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}`.
    #[serde(default = "default_object")]
    pub object: String,
    /// A new file starts after this long. Default `6h`; 10 s to 6 h.
    #[serde(default = "default_cycle")]
    pub cycle: Secs,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            object: default_object(),
            cycle: default_cycle(),
        }
    }
}

/// The longest `keep_local` age: 100 years (beyond it, "forever" says what is meant).
pub const MAX_KEEP_LOCAL_SECS: u64 = 36_500 * 86_400;

/// A sentence when `value` is outside `min..=max` seconds.
fn out_of_range(value: Secs, min: u64, max: u64) -> Option<String> {
    (!(min..=max).contains(&value.0))
        .then(|| format!("{value} is outside {}-{}", Secs(min), Secs(max)))
}

/// A URL the clients can use: one of `schemes`, a host, and no spaces or control
/// characters (which no HTTP client sends as they are).
fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let Some(rest) = schemes.iter().find_map(|s| url.strip_prefix(s)) else {
        return Err(format!("{url:?} must start with {}", schemes.join(", ")));
    };
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains {c:?}; write spaces as %20"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} names no host"));
    }
    Ok(())
}

/// One problem found in a configuration, naming its field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Problem {
    /// Path of the field, like `template[1].m3u8.slice_duration`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl Config {
    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Parses and validates TOML text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let problems = config.validate();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    /// Every problem across fields, each naming its field. Empty when valid.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut add = |field: String, message: String| p.push(Problem { field, message });
        let data_dir = self.data_dir.as_os_str();
        if data_dir.is_empty() {
            add(
                "data_dir".into(),
                "is empty: name a folder, like \"./tapedeck-data\"".into(),
            );
        } else if data_dir.to_string_lossy().contains('\0') {
            add(
                "data_dir".into(),
                "contains a NUL character, which no file system takes".into(),
            );
        }
        if self.low_space_warning.0 > MAX_LOW_SPACE_WARNING {
            add(
                "low_space_warning".into(),
                format!(
                    "{} is more than any disk holds (at most 1 PB); \"0\" turns the warning off",
                    self.low_space_warning
                ),
            );
        }
        if self
            .ingest
            .rtmp_listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            add(
                "ingest.rtmp_listen".into(),
                format!(
                    "{:?} is not an address like \"127.0.0.1:1935\"",
                    self.ingest.rtmp_listen
                ),
            );
        }
        let key = &self.ingest.publish_key;
        if key.len() > 256 {
            add(
                "ingest.publish_key".into(),
                format!("is {} characters long; at most 256", key.len()),
            );
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-._~".contains(*c)))
        {
            add(
                "ingest.publish_key".into(),
                format!("contains {c:?}, which a publisher cannot put in `?key=` as it is: use letters, digits, '-', '.', '_' or '~'"),
            );
        }
        for (field, value, min, max) in [
            ("ingest.idle_timeout", self.ingest.idle_timeout, 2, 3600),
            ("ingest.setup_timeout", self.ingest.setup_timeout, 1, 600),
        ] {
            if let Some(m) = out_of_range(value, min, max) {
                add(field.into(), m);
            }
        }
        let max_conn = self.ingest.max_connections;
        if !(1..=65536).contains(&max_conn) {
            add(
                "ingest.max_connections".into(),
                format!("{max_conn} is outside 1-65536"),
            );
        }
        let pending = self.ingest.max_pending_connections;
        if pending == 0 || pending > max_conn.max(1) {
            add(
                "ingest.max_pending_connections".into(),
                format!(
                    "{pending} is outside 1-{} (ingest.max_connections)",
                    max_conn.max(1)
                ),
            );
        }
        if !self.control.listen.is_empty() {
            match self.control.listen.parse::<std::net::SocketAddr>() {
                Ok(a) if !a.ip().is_loopback() => add("control.listen".into(), "must be a loopback address (127.0.0.1 or [::1]): the control API is for this machine only".into()),
                Ok(a) if a.port() == 0 => add("control.listen".into(), "needs a port (not 0): `tapedeck record` must know where to find the API".into()),
                Ok(_) => {}
                Err(_) => add("control.listen".into(), format!("{:?} is not an address like \"127.0.0.1:8935\"", self.control.listen)),
            }
        }
        for (field, url) in [
            ("callback.on_demand_url", &self.callback.on_demand_url),
            ("callback.url", &self.callback.url),
        ] {
            if !url.is_empty() {
                if let Err(m) = check_url(url, &["http://", "https://"]) {
                    add(field.into(), m);
                }
            }
        }
        if self.callback.domain.len() > 255 || self.callback.domain.chars().any(char::is_control) {
            add(
                "callback.domain".into(),
                "must be at most 255 characters, without control characters".into(),
            );
        }
        for (i, pull) in self.pull.iter().enumerate() {
            let f = |name: &str| format!("pull[{i}].{name}");
            if let Err(m) = check_url(&pull.url, &["rtmp://", "http://", "https://"]) {
                add(f("url"), m);
            }
            if let Err(e) = crate::names::validate_name("app", &pull.app) {
                add(f("app"), e);
            }
            if let Err(e) = crate::names::validate_name("stream", &pull.stream) {
                add(f("stream"), e);
            }
        }
        let mut keys = std::collections::HashMap::new();
        for (i, t) in self.template.iter().enumerate() {
            let f = |name: &str| format!("template[{i}].{name}");
            for (name, value) in [("app", &t.app), ("stream", &t.stream)] {
                if value != "*" {
                    if let Err(e) = crate::names::validate_name(name, value) {
                        add(f(name), format!("{e} (or use \"*\" to match every {name})"));
                    }
                }
            }
            if let Some(first) = keys.insert((t.app.clone(), t.stream.clone()), i) {
                add(f("app"), format!("template[{first}] already has app {:?} and stream {:?}; one template per key", t.app, t.stream));
            }
            if t.formats.is_empty() {
                add(
                    f("formats"),
                    "lists no format; use any of \"m3u8\", \"mp4\", \"flv\"".into(),
                );
            }
            if t.timezone.parse::<chrono_tz::Tz>().is_err() {
                add(
                    f("timezone"),
                    format!(
                        "{:?} is not an IANA time zone name like \"Europe/Berlin\" or \"UTC\"",
                        t.timezone
                    ),
                );
            }
            if t.interruption_window.0 > 21600 {
                add(
                    f("interruption_window"),
                    format!("{} is longer than 6h (21600s)", t.interruption_window),
                );
            }
            let slice = t.m3u8.slice_duration.0;
            if !(1..=60).contains(&slice) {
                add(
                    f("m3u8.slice_duration"),
                    format!("{} is outside 1s-60s", t.m3u8.slice_duration),
                );
            }
            for (name, cycle) in [
                ("m3u8.cycle", t.m3u8.cycle),
                ("mp4.cycle", t.mp4.cycle),
                ("flv.cycle", t.flv.cycle),
            ] {
                if !(10..=21600).contains(&cycle.0) {
                    add(f(name), format!("{cycle} is outside 10s-6h"));
                }
            }
            for (name, value) in [
                ("m3u8.object", &t.m3u8.object),
                ("mp4.object", &t.mp4.object),
                ("flv.object", &t.flv.object),
            ] {
                for message in naming::check_file_template(value) {
                    add(f(name), message);
                }
            }
            if !t.m3u8.daily_object.is_empty() {
                for message in naming::check_daily_template(&t.m3u8.daily_object) {
                    add(f("m3u8.daily_object"), message);
                }
            }
            for message in naming::check_slice_template(&t.m3u8.slice_object) {
                add(f("m3u8.slice_object"), message);
            }
            if let KeepLocal::For(secs) = t.keep_local {
                if secs > MAX_KEEP_LOCAL_SECS {
                    add(
                        f("keep_local"),
                        format!(
                            "{} is longer than 36500d (100 years); use \"forever\"",
                            t.keep_local
                        ),
                    );
                }
            }
            if t.storage.is_empty() {
                if t.keep_local != KeepLocal::Forever {
                    add(f("keep_local"), "needs `storage`: local copies are deleted only after their upload is confirmed".into());
                }
                if t.keep_local_max.is_some() {
                    add(f("keep_local_max"), "needs `storage`: local copies are deleted only after their upload is confirmed".into());
                }
            } else if !self.storage.iter().any(|s| s.name == t.storage) {
                add(
                    f("storage"),
                    format!("names no [[storage]] profile: {:?}", t.storage),
                );
            }
        }
        for (i, t) in self.template.iter().enumerate() {
            for (j, r) in t.run.iter().enumerate() {
                for (field, message) in crate::run::problems(r, &t.formats) {
                    add(format!("template[{i}].run[{j}].{field}"), message);
                }
            }
        }
        if !(1..=64).contains(&self.runs.max_parallel) {
            add(
                "runs.max_parallel".into(),
                format!("{} is outside 1-64", self.runs.max_parallel),
            );
        }
        let mut names = std::collections::HashMap::new();
        for (i, s) in self.storage.iter().enumerate() {
            for (field, message) in s.problems() {
                add(format!("storage[{i}].{field}"), message);
            }
            if let Some(first) = names.insert(s.name.clone(), i) {
                add(
                    format!("storage[{i}].name"),
                    format!("storage[{first}] is already named {:?}", s.name),
                );
            }
        }
        for (i, w) in self.watch.iter().enumerate() {
            let f = |name: &str| format!("watch[{i}].{name}");
            if w.path.as_os_str().is_empty() {
                add(f("path"), "is empty: name the folder to watch".into());
            }
            let mut names_ok = true;
            for (name, value) in [("app", &w.app), ("stream", &w.stream)] {
                if let Err(e) = crate::names::validate_name(name, value) {
                    add(f(name), e);
                    names_ok = false;
                }
            }
            if names_ok {
                match self.template_for(&w.app, &w.stream) {
                    None => add(f("app"), format!("no template matches {}/{}", w.app, w.stream)),
                    Some(t) if t.storage.is_empty() => add(
                        f("app"),
                        format!("the template for {}/{} has no `storage`, so watched files would go nowhere", w.app, w.stream),
                    ),
                    Some(_) => {}
                }
            }
            if !w.object.is_empty() {
                for message in naming::check_file_template(&w.object) {
                    add(f("object"), message);
                }
            }
            if let Some(m) = out_of_range(w.settle, 1, 3600) {
                add(f("settle"), m);
            }
            if w.extensions.is_empty() {
                add(
                    f("extensions"),
                    "lists no extension, so no file would ever be taken; like [\"mp4\", \"mkv\"]"
                        .into(),
                );
            }
            for e in &w.extensions {
                if e.is_empty() || e.len() > 16 || !e.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    add(
                        f("extensions"),
                        format!("{e:?} is not an extension: up to 16 letters or digits, without the dot"),
                    );
                }
            }
        }
        p
    }

    /// The folders whose files retention may delete besides the data folder: the
    /// `[[watch]]` folders with `delete_after_upload = true`.
    pub fn deletable_watch_folders(&self) -> Vec<PathBuf> {
        self.watch
            .iter()
            .filter(|w| w.delete_after_upload)
            .map(|w| w.path.clone())
            .collect()
    }

    /// The storage profile a template uploads to, if any.
    pub fn storage_for(&self, template: &Template) -> Option<&StorageProfile> {
        (!template.storage.is_empty())
            .then(|| self.storage.iter().find(|s| s.name == template.storage))
            .flatten()
    }

    /// The template for a stream: exact app and stream > app with `*` stream > `*`/`*`
    /// (and `*`/exact stream between the last two). `None`: the stream is not recorded.
    pub fn template_for(&self, app: &str, stream: &str) -> Option<&Template> {
        let rank = |t: &Template| match (
            t.app == app,
            t.stream == stream,
            t.app == "*",
            t.stream == "*",
        ) {
            (true, true, _, _) => Some(0),
            (true, _, _, true) => Some(1),
            (_, true, true, _) => Some(2),
            (_, _, true, true) => Some(3),
            _ => None,
        };
        self.template
            .iter()
            .filter_map(|t| rank(t).map(|r| (r, t)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, t)| t)
    }

    /// The folder recordings are written to.
    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("tapedeck.toml"))
    }

    /// `low_space_warning`: 5 GB unless set, any size unit, "0" off, refused by field when
    /// it is no size or more than any disk.
    #[test]
    fn low_space_warning_defaults_parses_and_is_checked() {
        assert_eq!(
            parse("").unwrap().low_space_warning,
            ByteSize(5_000_000_000)
        );
        assert_eq!(
            parse("low_space_warning = \"20MB\"")
                .unwrap()
                .low_space_warning,
            ByteSize(20_000_000)
        );
        assert_eq!(
            parse("low_space_warning = \"2GiB\"")
                .unwrap()
                .low_space_warning,
            ByteSize(2 << 30)
        );
        assert_eq!(
            parse("low_space_warning = \"0\"")
                .unwrap()
                .low_space_warning,
            ByteSize(0)
        );
        assert_eq!(
            parse("low_space_warning = 0").unwrap().low_space_warning,
            ByteSize(0)
        );
        let e = parse("low_space_warning = \"5 gigs\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("low_space_warning") && e.contains("unknown unit"),
            "{e}"
        );
        match parse("low_space_warning = \"2000TB\"") {
            Err(ConfigError::Invalid { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].field, "low_space_warning");
                assert!(problems[0].message.contains("1 PB"), "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
        // A value written back reads as itself (the app edits this file).
        let c = parse("low_space_warning = \"750MB\"").unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::from_toml(&text, Path::new("x.toml")).unwrap(), c);
    }

    #[test]
    fn issue_example_parses() {
        let text = r#"
data_dir = "./tapedeck-data"
[ingest]
rtmp_listen = "127.0.0.1:1935"
publish_key = ""
[[pull]]
url = "http://example.com/live/x.flv"
app = "remote"
stream = "x"
[[template]]
app = "*"
stream = "*"
formats = ["m3u8", "mp4", "flv"]
interruption_window = "180s"
[template.m3u8]
object = "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}"
slice_object = "record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}"
slice_duration = "30s"
cycle = "6h"
[template.mp4]
object = "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}"
cycle = "6h"
[template.flv]
object = "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}"
cycle = "6h"
"#;
        let c = parse(text).unwrap();
        assert_eq!(
            c.template[0].formats,
            vec![Format::M3u8, Format::Mp4, Format::Flv]
        );
        assert_eq!(c.template[0].m3u8.cycle, Secs(21600));
        assert_eq!(c.pull[0].app, "remote");
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.template.len(), 1);
        assert_eq!(c.template[0].formats, vec![Format::M3u8, Format::Mp4]);
        assert_eq!(c.ingest.rtmp_listen, "127.0.0.1:1935");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = parse("[ingest]\nrtmp_lisen = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtmp_lisen"), "{e}");
        let e = parse("[[template]]\ninterruption_window = \"3 minutes\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("interruption_window") || e.contains("3 minutes"),
            "{e}"
        );
        let e = parse("[[template]]\nformats = [\"avi\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("avi"), "{e}");
    }

    #[test]
    fn validation_reports_every_problem_with_its_field() {
        let text = r#"
[ingest]
rtmp_listen = "nowhere"
[[template]]
app = "live/x"
formats = []
interruption_window = "7h"
timezone = "Mars/Olympus"
[template.m3u8]
slice_duration = "90s"
slice_object = "seg/{Sequence}"
cycle = "5s"
[template.mp4]
object = "../outside/{EscapedStartTime}"
[[template]]
[[template]]
"#;
        let ConfigError::Invalid { problems, .. } = parse(text).unwrap_err() else {
            panic!("expected Invalid")
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "ingest.rtmp_listen",
            "template[0].app",
            "template[0].formats",
            "template[0].interruption_window",
            "template[0].timezone",
            "template[0].m3u8.slice_duration",
            "template[0].m3u8.cycle",
            "template[0].m3u8.slice_object",
            "template[0].mp4.object",
            "template[2].app",
        ] {
            assert!(fields.contains(&want), "missing {want} in {fields:?}");
        }
    }

    #[test]
    fn values_that_cannot_work_are_refused_by_field() {
        let storage = "[[storage]]\nname = \"s\"\nprovider = \"custom\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"recordings\"\n[[template]]\nstorage = \"s\"\n";
        let watch = |extra: &str| {
            format!(
                "{storage}[[watch]]\npath = \"/tmp\"\napp = \"obs\"\nstream = \"desk\"\n{extra}"
            )
        };
        let cases: Vec<(String, &str)> = vec![
            ("data_dir = \"\"".into(), "data_dir"),
            ("[ingest]\nidle_timeout = \"1s\"".into(), "ingest.idle_timeout"),
            ("[ingest]\nidle_timeout = \"2h\"".into(), "ingest.idle_timeout"),
            ("[ingest]\nsetup_timeout = 0".into(), "ingest.setup_timeout"),
            ("[ingest]\nsetup_timeout = \"11m\"".into(), "ingest.setup_timeout"),
            ("[ingest]\npublish_key = \"a&b=c\"".into(), "ingest.publish_key"),
            ("[ingest]\npublish_key = \"has space\"".into(), "ingest.publish_key"),
            (format!("[ingest]\npublish_key = \"{}\"", "k".repeat(257)), "ingest.publish_key"),
            ("[ingest]\nmax_connections = 0".into(), "ingest.max_connections"),
            ("[ingest]\nmax_connections = 65537".into(), "ingest.max_connections"),
            ("[ingest]\nmax_connections = 8\nmax_pending_connections = 9".into(), "ingest.max_pending_connections"),
            ("[ingest]\nmax_pending_connections = 0".into(), "ingest.max_pending_connections"),
            ("[control]\nlisten = \"127.0.0.1:0\"".into(), "control.listen"),
            ("[control]\nlisten = \"0.0.0.0:8935\"".into(), "control.listen"),
            ("[callback]\nurl = \"http:///hook\"".into(), "callback.url"),
            ("[callback]\nurl = \"http://host/a b\"".into(), "callback.url"),
            ("[callback]\non_demand_url = \"ftp://host/\"".into(), "callback.on_demand_url"),
            ("[[pull]]\nurl = \"rtmp://\"\napp = \"a\"\nstream = \"b\"".into(), "pull[0].url"),
            (format!("{storage}keep_local = \"36501d\""), "template[0].keep_local"),
            (watch("extensions = []"), "watch[0].extensions"),
            (watch("extensions = [\".mp4\"]"), "watch[0].extensions"),
            (watch("settle = \"0s\""), "watch[0].settle"),
            (watch("settle = \"2h\""), "watch[0].settle"),
            ("[[storage]]\nname = \"s\"\nprovider = \"aws\"\nbucket = \"recordings\"\nregion = \"us east\"".into(), "storage[0].region"),
            ("[[storage]]\nname = \"s\"\nprovider = \"aws\"\nbucket = \"recordings\"\nmultipart_threshold = \"6GiB\"".into(), "storage[0].multipart_threshold"),
            ("[[storage]]\nname = \"s\"\nprovider = \"custom\"\nbucket = \"recordings\"\nendpoint = \"http://\"".into(), "storage[0].endpoint"),
        ];
        for (text, field) in cases {
            match parse(&text) {
                Err(ConfigError::Invalid { problems, .. }) => assert!(
                    problems.iter().any(|p| p.field == field),
                    "{field} not named for {text:?}: {problems:?}"
                ),
                other => panic!("{text:?} was not refused: {other:?}"),
            }
        }
        // The edges that work.
        for text in [
            "[ingest]\nidle_timeout = \"1h\"\nsetup_timeout = \"10m\"\nmax_connections = 65536\nmax_pending_connections = 65536",
            "[ingest]\nrtmp_listen = \"127.0.0.1:0\"\npublish_key = \"A-z_0.9~\"\nmax_connections = 1\nmax_pending_connections = 1",
        ] {
            assert!(parse(text).is_ok(), "{text}: {:?}", parse(text).err());
        }
        let c = parse("").unwrap();
        assert_eq!(
            (c.ingest.max_connections, c.ingest.max_pending_connections),
            (256, 64)
        );
        let c = parse(&watch("")).unwrap();
        assert!(!c.watch[0].delete_after_upload);
        assert!(c.deletable_watch_folders().is_empty());
    }

    #[test]
    fn most_specific_template_wins() {
        let mut c = Config::default();
        let t = |app: &str, stream: &str| Template {
            app: app.into(),
            stream: stream.into(),
            ..Template::default()
        };
        c.template = vec![
            t("*", "*"),
            t("live", "*"),
            t("live", "cam1"),
            t("*", "cam9"),
        ];
        fn pick(c: &Config, app: &str, stream: &str) -> Option<(String, String)> {
            c.template_for(app, stream)
                .map(|t| (t.app.clone(), t.stream.clone()))
        }
        let want = |a: &str, s: &str| Some((a.to_string(), s.to_string()));
        assert_eq!(pick(&c, "live", "cam1"), want("live", "cam1"));
        assert_eq!(pick(&c, "live", "cam2"), want("live", "*"));
        assert_eq!(pick(&c, "other", "cam9"), want("*", "cam9"));
        assert_eq!(pick(&c, "other", "x"), want("*", "*"));
        c.template = vec![t("live", "cam1")];
        assert_eq!(pick(&c, "live", "cam2"), None);
    }
}
