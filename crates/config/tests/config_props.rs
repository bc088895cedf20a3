//! Property tests of `tapedeck.toml`: whatever a user (or a damaged file) puts in it, the
//! configuration is parsed and validated without a panic, every refusal names a field, and
//! what is accepted can be used (names rendered, templates matched).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::Path;

use proptest::prelude::*;
use tapedeck_config::config::{ConfigError, Template};
use tapedeck_config::naming::{render, NameContext};
use tapedeck_config::Config;
use toml::{Table, Value};

/// Any TOML value, nested a little: strings (plain, duration-like, size-like, hostile),
/// numbers at their extremes, floats (NaN and infinities included), booleans, arrays.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::String),
        "[0-9]{1,22}[smhd]?".prop_map(Value::String),
        "[0-9]{1,3}h[0-9]{1,3}m[0-9]{0,3}s?".prop_map(Value::String),
        "[0-9.]{1,8}(B|KB|MB|GB|MiB|GiB|TiB|Mbit/s|kbit/s|MB/s|bps)?".prop_map(Value::String),
        prop::sample::select(vec![
            "",
            "*",
            "forever",
            "until_uploaded",
            "0s",
            "m3u8",
            "mp4",
            "flv",
            "avi",
            "UTC",
            "Mars/Olympus",
            "../..",
            "/etc/passwd",
            "C:\\x",
            "{AppName}",
            "{Sequence}",
            "{UnixTimestamp}_{Sequence}",
            "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}",
            "127.0.0.1:0",
            "127.0.0.1:1935",
            "[::1]:0",
            "0.0.0.0:99999",
            "http://",
            "http://x",
            "https://u:p@h:1/p?q",
            "rtmp://h/a/b",
            "custom",
            "oss",
            "aws",
            "r2",
            "\u{0}",
            "a\nb",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        any::<i64>().prop_map(Value::Integer),
        prop::sample::select(vec![
            0i64,
            1,
            -1,
            2,
            59,
            60,
            61,
            21600,
            21601,
            65536,
            65537,
            i64::MAX,
            i64::MIN
        ])
        .prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::Array)
    })
}

/// A table with some of `keys` (and now and then one nobody knows), each with any value.
fn table(keys: &'static [&'static str]) -> impl Strategy<Value = Table> {
    prop::collection::vec(
        (
            prop_oneof![
                9 => prop::sample::select(keys).prop_map(str::to_string),
                1 => "[a-z_]{1,12}",
            ],
            any_value(),
        ),
        0..keys.len() + 2,
    )
    .prop_map(|pairs| pairs.into_iter().collect())
}

const INGEST: &[&str] = &[
    "rtmp_listen",
    "publish_key",
    "idle_timeout",
    "setup_timeout",
    "max_connections",
    "max_pending_connections",
];
const PULL: &[&str] = &["url", "app", "stream"];
const TEMPLATE: &[&str] = &[
    "app",
    "stream",
    "formats",
    "interruption_window",
    "timezone",
    "storage",
    "keep_local",
    "keep_local_max",
];
const M3U8: &[&str] = &[
    "object",
    "slice_object",
    "slice_duration",
    "cycle",
    "daily_object",
];
const FILE: &[&str] = &["object", "cycle"];
const CALLBACK: &[&str] = &["url", "secret", "status_events", "domain", "on_demand_url"];
const CONTROL: &[&str] = &["listen"];
const STORAGE: &[&str] = &[
    "name",
    "provider",
    "endpoint",
    "region",
    "account_id",
    "bucket",
    "prefix",
    "path_style",
    "storage_class",
    "max_upload_rate",
    "concurrency",
    "multipart_threshold",
    "part_size",
    "parts_in_flight",
];
const WATCH: &[&str] = &[
    "path",
    "app",
    "stream",
    "object",
    "settle",
    "extensions",
    "delete_after_upload",
];

fn template() -> impl Strategy<Value = Value> {
    (
        table(TEMPLATE),
        prop::option::of(table(M3U8)),
        prop::option::of(table(FILE)),
        prop::option::of(table(FILE)),
    )
        .prop_map(|(mut t, m3u8, mp4, flv)| {
            for (name, sub) in [("m3u8", m3u8), ("mp4", mp4), ("flv", flv)] {
                if let Some(sub) = sub {
                    t.insert(name.into(), Value::Table(sub));
                }
            }
            Value::Table(t)
        })
}

fn tables(t: impl Strategy<Value = Table>) -> impl Strategy<Value = Value> {
    prop::collection::vec(t.prop_map(Value::Table), 0..3).prop_map(Value::Array)
}

/// A whole file: the known tables with arbitrary contents, and now and then any value in
/// place of a table.
fn config_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(any_value()),
        prop::option::of(table(INGEST)),
        prop::option::of(tables(table(PULL))),
        prop::option::of(prop::collection::vec(template(), 0..3).prop_map(Value::Array)),
        prop::option::of(table(CALLBACK)),
        prop::option::of(table(CONTROL)),
        prop::option::of(tables(table(STORAGE))),
        prop::option::of(tables(table(WATCH))),
        prop::option::of(("[a-z_]{1,10}", any_value())),
    )
        .prop_map(
            |(data_dir, ingest, pull, template, callback, control, storage, watch, odd)| {
                let mut root = Table::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        root.insert(k.to_string(), v);
                    }
                };
                put("data_dir", data_dir);
                put("ingest", ingest.map(Value::Table));
                put("pull", pull);
                put("template", template);
                put("callback", callback.map(Value::Table));
                put("control", control.map(Value::Table));
                put("storage", storage);
                put("watch", watch);
                if let Some((k, v)) = odd {
                    put(&k, Some(v));
                }
                toml::to_string(&root).unwrap_or_default()
            },
        )
}

/// What `config check` and a recording do with an accepted configuration.
fn use_it(config: &Config) {
    let _ = config.recordings_dir();
    let _ = config.deletable_watch_folders();
    for (app, stream) in [("live", "cam1"), ("obs", "desk"), ("a", "b")] {
        if let Some(t) = config.template_for(app, stream) {
            names(t, app, stream);
            let _ = config.storage_for(t);
        }
    }
    for t in &config.template {
        names(t, "live", "cam1");
    }
}

fn names(t: &Template, app: &str, stream: &str) {
    let now = chrono::Utc::now();
    let ctx = NameContext {
        app,
        stream,
        start: now,
        end: Some(now),
        segment_start: Some(now),
        sequence: 7,
        tz: t.tz(),
    };
    for (object, ext) in [
        (&t.m3u8.object, "m3u8"),
        (&t.m3u8.slice_object, "ts"),
        (&t.m3u8.daily_object, "m3u8"),
        (&t.mp4.object, "mp4"),
        (&t.flv.object, "flv"),
    ] {
        let key = render(object, &ctx, ext);
        assert!(
            !key.starts_with('/') && !key.split('/').any(|c| c == ".."),
            "{object:?} -> {key:?}"
        );
    }
}

fn check(text: &str) {
    match Config::from_toml(text, Path::new("tapedeck.toml")) {
        Ok(config) => {
            assert!(config.validate().is_empty());
            use_it(&config);
        }
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert!(!p.field.is_empty() && !p.message.is_empty(), "{p:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn structured_nonsense_never_panics(text in config_text()) {
        check(&text);
    }

    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    /// Values near every bound: accepted ones are usable, refused ones name the field.
    #[test]
    fn durations_and_counts_at_their_bounds(
        idle in 0u64..100_000,
        setup in 0u64..100_000,
        settle in 0u64..100_000,
        max in 0u32..70_000,
        pending in 0u32..70_000,
        window in 0u64..30_000,
        slice in 0u64..100,
        cycle in 0u64..30_000,
    ) {
        let text = format!(
            "[ingest]\nidle_timeout = {idle}\nsetup_timeout = {setup}\nmax_connections = {max}\nmax_pending_connections = {pending}\n\
             [[storage]]\nname = \"s\"\nprovider = \"custom\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"recordings\"\n\
             [[template]]\nstorage = \"s\"\ninterruption_window = {window}\n[template.m3u8]\nslice_duration = {slice}\ncycle = {cycle}\n\
             [[watch]]\npath = \"/tmp\"\napp = \"obs\"\nstream = \"desk\"\nsettle = {settle}\n"
        );
        let want_ok = (2..=3600).contains(&idle)
            && (1..=600).contains(&setup)
            && (1..=3600).contains(&settle)
            && (1..=65536).contains(&max)
            && pending >= 1 && pending <= max
            && window <= 21600
            && (1..=60).contains(&slice)
            && (10..=21600).contains(&cycle);
        let result = Config::from_toml(&text, Path::new("t.toml"));
        prop_assert_eq!(result.is_ok(), want_ok, "{:?}", result.err().map(|e| e.to_string()));
    }
}

/// Strings as users get them wrong: empty, plain names, paths, URLs, templates, and any
/// characters at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[A-Za-z0-9_-]{0,12}",
        1 => prop::sample::select(vec![
            "*", "live", "cam1", "http://127.0.0.1:9/x", "https://u:p@h/p?q=1", "rtmp://h/a/b", "http://",
            "127.0.0.1:0", "[::1]:8935", "0.0.0.0:1", "{AppName}/{StreamName}/{Date}",
            "record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}", "../x/{Sequence}", "UTC",
        ]).prop_map(str::to_string),
    ]
}

fn secs() -> impl Strategy<Value = tapedeck_config::duration::Secs> {
    prop_oneof![any::<u64>(), 0u64..100_000].prop_map(tapedeck_config::duration::Secs)
}

fn keep_local() -> impl Strategy<Value = tapedeck_config::KeepLocal> {
    use tapedeck_config::KeepLocal;
    prop_oneof![
        Just(KeepLocal::Forever),
        Just(KeepLocal::UntilUploaded),
        any::<u64>().prop_map(KeepLocal::For),
    ]
}

fn typed_template() -> impl Strategy<Value = Template> {
    use tapedeck_config::config::Format;
    (
        (
            text(),
            text(),
            prop::collection::vec(
                prop::sample::select(vec![Format::M3u8, Format::Mp4, Format::Flv]),
                0..4,
            ),
        ),
        (secs(), text(), text(), text(), secs(), secs()),
        (
            text(),
            secs(),
            text(),
            secs(),
            text(),
            keep_local(),
            prop::option::of(any::<u64>()),
        ),
    )
        .prop_map(
            |(
                (app, stream, formats),
                (window, tz, object, slice_object, slice, cycle),
                (daily, mp4_cycle, mp4_object, flv_cycle, storage, keep, max),
            )| {
                let mut t = Template {
                    app,
                    stream,
                    formats,
                    interruption_window: window,
                    timezone: tz,
                    storage,
                    keep_local: keep,
                    ..Template::default()
                };
                t.keep_local_max = max.map(tapedeck_config::ByteSize);
                t.m3u8.object = object;
                t.m3u8.slice_object = slice_object;
                t.m3u8.slice_duration = slice;
                t.m3u8.cycle = cycle;
                t.m3u8.daily_object = daily;
                t.mp4.cycle = mp4_cycle;
                t.mp4.object = mp4_object;
                t.flv.cycle = flv_cycle;
                t
            },
        )
}

fn typed_storage() -> impl Strategy<Value = tapedeck_config::StorageProfile> {
    use tapedeck_config::{ByteRate, ByteSize, Provider, StorageProfile};
    (
        (
            text(),
            prop::sample::select(vec![
                Provider::Oss,
                Provider::Aws,
                Provider::R2,
                Provider::Custom,
            ]),
            text(),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            prop::option::of(any::<bool>()),
            text(),
            prop::option::of(any::<u64>()),
            any::<usize>(),
            any::<u64>(),
            any::<u64>(),
            0usize..100,
        ),
    )
        .prop_map(
            |(
                (name, provider, endpoint, region, account_id, bucket, prefix),
                (path_style, storage_class, rate, concurrency, threshold, part, parts),
            )| StorageProfile {
                name,
                provider,
                endpoint,
                region,
                account_id,
                bucket,
                prefix,
                path_style,
                storage_class,
                max_upload_rate: rate.map(ByteRate),
                concurrency,
                multipart_threshold: ByteSize(threshold),
                part_size: ByteSize(part),
                parts_in_flight: parts,
            },
        )
}

fn typed_config() -> impl Strategy<Value = Config> {
    use tapedeck_config::config::{PullConfig, WatchConfig};
    (
        (
            text(),
            text(),
            text(),
            secs(),
            secs(),
            any::<u32>(),
            any::<u32>(),
        ),
        prop::collection::vec((text(), text(), text()), 0..3),
        prop::collection::vec(typed_template(), 0..4),
        (text(), text(), any::<bool>(), text(), text(), text()),
        prop::collection::vec(typed_storage(), 0..3),
        prop::collection::vec(
            (
                text(),
                text(),
                text(),
                text(),
                secs(),
                prop::collection::vec(text(), 0..3),
                any::<bool>(),
            ),
            0..3,
        ),
    )
        .prop_map(
            |(
                (data_dir, listen, key, idle, setup, max, pending),
                pulls,
                templates,
                (url, secret, status, domain, on_demand, control),
                storage,
                watches,
            )| {
                let mut c = Config {
                    data_dir: data_dir.into(),
                    template: templates,
                    storage,
                    ..Config::default()
                };
                c.ingest.rtmp_listen = listen;
                c.ingest.publish_key = key;
                c.ingest.idle_timeout = idle;
                c.ingest.setup_timeout = setup;
                c.ingest.max_connections = max;
                c.ingest.max_pending_connections = pending;
                c.pull = pulls
                    .into_iter()
                    .map(|(url, app, stream)| PullConfig { url, app, stream })
                    .collect();
                c.callback.url = url;
                c.callback.secret = secret;
                c.callback.status_events = status;
                c.callback.domain = domain;
                c.callback.on_demand_url = on_demand;
                c.control.listen = control;
                c.watch = watches
                    .into_iter()
                    .map(
                        |(path, app, stream, object, settle, extensions, delete_after_upload)| {
                            WatchConfig {
                                path: path.into(),
                                app,
                                stream,
                                object,
                                settle,
                                extensions,
                                delete_after_upload,
                            }
                        },
                    )
                    .collect();
                c
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every field of the right type but any value: `validate` never panics, and what it
    /// accepts survives the trip through TOML and can be used.
    #[test]
    fn typed_nonsense_is_validated_without_panic(config in typed_config()) {
        let problems = config.validate();
        for p in &problems {
            prop_assert!(!p.field.is_empty() && !p.message.is_empty());
        }
        if problems.is_empty() {
            use_it(&config);
        }
        if let Ok(text) = toml::to_string(&config) {
            check(&text);
        }
    }
}
