//! Post-recording commands (`[[template.run]]`, `[runs]`): what runs on each finished file,
//! its placeholders and how they are rendered, and the checks `validate()` makes.
//!
//! A command is a program and its arguments, run directly (no shell unless the user names
//! one). Each argument may hold placeholders, replaced in one pass (a value that itself
//! contains `{Name}` is not expanded again):
//!
//! | placeholder    | environment variable | value |
//! |----------------|----------------------|-------|
//! | `{Path}`       | `TAPEDECK_PATH`      | the finished file, absolute |
//! | `{Dir}`        | `TAPEDECK_DIR`       | its folder |
//! | `{Name}`       | `TAPEDECK_NAME`      | its file name without the extension |
//! | `{Key}`        | `TAPEDECK_KEY`       | its key under the recordings folder (with `/`) |
//! | `{AppName}`    | `TAPEDECK_APP`       | the stream's app |
//! | `{StreamName}` | `TAPEDECK_STREAM`    | the stream's name |
//! | `{Format}`     | `TAPEDECK_FORMAT`    | the `on` value the file matched: `m3u8`, `mp4`, `flv`, `segment` |
//!
//! `{{` and `}}` are literal braces; a `{` right after `$` (a shell's `${VAR}`) and braces
//! around anything but a name (`{}`, `{print $1}`) are left as they are.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::Format;
use crate::duration::Secs;

/// The placeholders of a command and their environment variables.
pub const RUN_PLACEHOLDERS: [(&str, &str); 7] = [
    ("Path", "TAPEDECK_PATH"),
    ("Dir", "TAPEDECK_DIR"),
    ("Name", "TAPEDECK_NAME"),
    ("Key", "TAPEDECK_KEY"),
    ("AppName", "TAPEDECK_APP"),
    ("StreamName", "TAPEDECK_STREAM"),
    ("Format", "TAPEDECK_FORMAT"),
];

/// The shortest and longest `timeout` (1 s, 24 h).
pub const RUN_TIMEOUT_RANGE: (u64, u64) = (1, 86_400);

/// `[runs]`: how post-recording commands share the machine.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct RunsConfig {
    /// How many commands run at once, across all templates; the others wait their turn in
    /// the catalog. Default 2; 1 to 64.
    #[serde(default = "default_max_parallel")]
    pub max_parallel: u32,
}

fn default_max_parallel() -> u32 {
    2
}

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            max_parallel: default_max_parallel(),
        }
    }
}

/// `[[template.run]]`: a command run on each finished file of the template.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which finished files trigger it: `"m3u8"` (the final playlist), `"mp4"`, `"flv"`,
    /// `"segment"` (each HLS segment). Default `["m3u8", "mp4", "flv"]`: every finished
    /// recording file the template writes, not its segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<RunOn>>,
    /// The program (an absolute path, or a name found on `PATH`) and its arguments, with
    /// placeholders. Required.
    pub command: Vec<String>,
    /// After this long the command's whole process group is killed and the run recorded
    /// as timed out. Default `1h`; 1 s to 24 h.
    #[serde(default = "default_run_timeout")]
    pub timeout: Secs,
}

/// What `on` is when left out.
pub const DEFAULT_ON: [RunOn; 3] = [RunOn::M3u8, RunOn::Mp4, RunOn::Flv];

impl RunConfig {
    /// The kinds of file that trigger it (`on`, or its default).
    pub fn triggers(&self) -> &[RunOn] {
        self.on.as_deref().unwrap_or(&DEFAULT_ON)
    }
}

fn default_run_timeout() -> Secs {
    Secs(3600)
}

/// A kind of finished file that triggers a command. Read from any string, so that an
/// unknown one is reported by `validate()` with its field rather than as a parse error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, ts_rs::TS)]
#[ts(type = "string")]
pub enum RunOn {
    /// The recording's final playlist (not the live one, not the daily index).
    M3u8,
    Mp4,
    Flv,
    /// Each finished HLS segment.
    Segment,
    /// Not a kind Tapedeck knows (reported by `validate()`).
    Unknown(String),
}

impl RunOn {
    pub const KNOWN: [&'static str; 4] = ["m3u8", "mp4", "flv", "segment"];

    pub fn parse(s: &str) -> RunOn {
        match s {
            "m3u8" => RunOn::M3u8,
            "mp4" => RunOn::Mp4,
            "flv" => RunOn::Flv,
            "segment" => RunOn::Segment,
            other => RunOn::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RunOn::M3u8 => "m3u8",
            RunOn::Mp4 => "mp4",
            RunOn::Flv => "flv",
            RunOn::Segment => "segment",
            RunOn::Unknown(s) => s,
        }
    }

    /// The template format that writes such files.
    pub fn format(&self) -> Option<Format> {
        match self {
            RunOn::M3u8 | RunOn::Segment => Some(Format::M3u8),
            RunOn::Mp4 => Some(Format::Mp4),
            RunOn::Flv => Some(Format::Flv),
            RunOn::Unknown(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for RunOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RunOn::parse(&String::deserialize(d)?))
    }
}

impl Serialize for RunOn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The values of a command's placeholders for one finished file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunValues {
    pub path: String,
    pub dir: String,
    pub name: String,
    pub key: String,
    pub app: String,
    pub stream: String,
    pub format: String,
}

impl RunValues {
    /// The values for the file at `path` (`dir` and `name` are taken from it).
    pub fn new(path: &Path, key: &str, app: &str, stream: &str, format: &str) -> RunValues {
        let text = |p: Option<&std::ffi::OsStr>| {
            p.map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        RunValues {
            path: path.to_string_lossy().into_owned(),
            dir: text(path.parent().map(Path::as_os_str)),
            name: text(path.file_stem()),
            key: key.to_owned(),
            app: app.to_owned(),
            stream: stream.to_owned(),
            format: format.to_owned(),
        }
    }

    /// The value of placeholder `name` (without braces).
    pub fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "Path" => &self.path,
            "Dir" => &self.dir,
            "Name" => &self.name,
            "Key" => &self.key,
            "AppName" => &self.app,
            "StreamName" => &self.stream,
            "Format" => &self.format,
            _ => return None,
        })
    }

    /// The `TAPEDECK_*` environment variables a command runs with.
    pub fn env(&self) -> Vec<(&'static str, &str)> {
        RUN_PLACEHOLDERS
            .iter()
            .filter_map(|(name, var)| Some((*var, self.get(name)?)))
            .collect()
    }
}

/// One piece of an argument.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `{Name}`: a name in braces (known or not).
    Placeholder(&'a str),
}

/// Splits an argument into text and placeholders (see the module documentation).
fn pieces(arg: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let bytes = arg.as_bytes();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let doubled = bytes.get(i + 1) == Some(&b);
        if (b == b'{' || b == b'}') && doubled {
            out.push(Piece::Text(&arg[text_start..=i]));
            i += 2;
            text_start = i;
            continue;
        }
        if b == b'{' && (i == 0 || bytes[i - 1] != b'$') {
            let rest = &arg[i + 1..];
            let name_len = rest
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            let is_name = name_len > 0
                && rest.as_bytes()[0].is_ascii_alphabetic()
                && rest.as_bytes().get(name_len) == Some(&b'}');
            if is_name {
                out.push(Piece::Text(&arg[text_start..i]));
                out.push(Piece::Placeholder(&rest[..name_len]));
                i += name_len + 2;
                text_start = i;
                continue;
            }
        }
        i += 1;
    }
    out.push(Piece::Text(&arg[text_start..]));
    out.retain(|p| *p != Piece::Text(""));
    out
}

/// The placeholder names in `arg` that are not known.
pub fn unknown_placeholders(arg: &str) -> Vec<&str> {
    pieces(arg)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) if !RUN_PLACEHOLDERS.iter().any(|(n, _)| *n == name) => {
                Some(name)
            }
            _ => None,
        })
        .collect()
}

/// Whether `arg` holds any placeholder.
pub fn has_placeholders(arg: &str) -> bool {
    pieces(arg)
        .iter()
        .any(|p| matches!(p, Piece::Placeholder(_)))
}

/// `arg` with its placeholders replaced, in one pass. An unknown placeholder (which
/// `validate()` refuses) is kept as written.
pub fn render_arg(arg: &str, values: &RunValues) -> String {
    let mut out = String::with_capacity(arg.len());
    for p in pieces(arg) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(name) => match values.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

/// The whole command rendered for one file.
pub fn render_command(command: &[String], values: &RunValues) -> Vec<String> {
    command.iter().map(|a| render_arg(a, values)).collect()
}

/// Where `program` is: an absolute path that is an executable file, or a bare name found
/// on `PATH`. Otherwise a sentence saying what to write instead.
pub fn find_program(program: &str) -> Result<PathBuf, String> {
    find_program_in(program, std::env::var_os("PATH").as_deref())
}

fn find_program_in(program: &str, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, String> {
    let p = Path::new(program);
    if p.is_absolute() {
        return match executable(p) {
            Ok(()) => Ok(p.to_owned()),
            Err(why) => Err(format!("{program:?} {why}")),
        };
    }
    if program.contains('/') || program.contains('\\') {
        return Err(format!(
            "{program:?} is a relative path, which depends on the folder Tapedeck starts in: write it absolute, or just a program name to find on PATH"
        ));
    }
    for dir in path_var.map(std::env::split_paths).into_iter().flatten() {
        for candidate in candidates(&dir.join(program)) {
            if executable(&candidate).is_ok() {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "{program:?} is not found on PATH: install it, or write its absolute path"
    ))
}

/// The files a name on `PATH` may be: itself, and on Windows with each of `PATHEXT`.
fn candidates(base: &Path) -> Vec<PathBuf> {
    #[cfg(windows)]
    {
        let exts = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
        let mut out = vec![base.to_owned()];
        for e in exts.split(';').filter(|e| !e.is_empty()) {
            let mut s = base.as_os_str().to_owned();
            s.push(e);
            out.push(PathBuf::from(s));
        }
        out
    }
    #[cfg(not(windows))]
    {
        vec![base.to_owned()]
    }
}

/// `Ok` when `p` is a file this user may execute (on Windows: a file).
fn executable(p: &Path) -> Result<(), &'static str> {
    let meta = std::fs::metadata(p).map_err(|_| "does not exist")?;
    if !meta.is_file() {
        return Err("is not a file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("is not executable (chmod +x)");
        }
    }
    Ok(())
}

/// Every problem of one `[[template.run]]`, as (field under the run, message).
/// `formats` are the template's.
pub fn problems(run: &RunConfig, formats: &[Format]) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    match run.command.first() {
        None => p.push((
            "command",
            "is empty: name the program and its arguments, like [\"/usr/bin/ffprobe\", \"{Path}\"]".to_string(),
        )),
        Some(program) if program.trim().is_empty() => {
            p.push(("command", "names no program (its first item is empty)".into()))
        }
        Some(program) if has_placeholders(program) => p.push((
            "command",
            format!("the program {program:?} cannot hold placeholders: name a program, and pass the file as an argument"),
        )),
        Some(program) => {
            if let Err(m) = find_program(program) {
                p.push(("command", m));
            }
        }
    }
    let known = RUN_PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(" ");
    for (i, arg) in run.command.iter().enumerate() {
        for name in unknown_placeholders(arg) {
            p.push((
                "command",
                format!("{{{name}}} (in item {i}) is not a placeholder; known: {known} (write {{{{ and }}}} for literal braces)"),
            ));
        }
        if arg.contains('\0') {
            p.push((
                "command",
                format!("item {i} contains a NUL character, which no program can be given"),
            ));
        }
    }
    let on = run.on.as_deref().unwrap_or_default();
    if run.on.is_some() && on.is_empty() {
        p.push((
            "on",
            "lists nothing, so the command would never run; like [\"mp4\"], or leave it out for every file".into(),
        ));
    }
    // Listed explicitly: a kind the template never writes is a mistake. The default
    // (every file) applies to whatever it records.
    for on in on {
        match on.format() {
            None => p.push((
                "on",
                format!(
                    "{:?} is not a kind of file; use any of {}",
                    on.as_str(),
                    RunOn::KNOWN.map(|k| format!("{k:?}")).join(", ")
                ),
            )),
            Some(f) if !formats.contains(&f) => p.push((
                "on",
                format!(
                    "{:?} never happens: the template does not record {}",
                    on.as_str(),
                    f.extension()
                ),
            )),
            Some(_) => {}
        }
    }
    let (min, max) = RUN_TIMEOUT_RANGE;
    if !(min..=max).contains(&run.timeout.0) {
        p.push((
            "timeout",
            format!("{} is outside {}-{}", run.timeout, Secs(min), Secs(max)),
        ));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> RunValues {
        RunValues::new(
            Path::new("/data/my recordings/record/live/cam 1/2026-01-02_x.mp4"),
            "record/live/cam 1/2026-01-02_x.mp4",
            "live",
            "cam1",
            "mp4",
        )
    }

    #[test]
    fn renders_every_placeholder_in_one_pass() {
        let v = values();
        let cases = [
            (
                "{Path}",
                "/data/my recordings/record/live/cam 1/2026-01-02_x.mp4",
            ),
            (
                "{Dir}/{Name}_480p.mp4",
                "/data/my recordings/record/live/cam 1/2026-01-02_x_480p.mp4",
            ),
            ("{Key}", "record/live/cam 1/2026-01-02_x.mp4"),
            ("{AppName}/{StreamName}.{Format}", "live/cam1.mp4"),
            ("plain", "plain"),
            ("", ""),
            // Literal braces, a shell's ${VAR}, and braces around no name stay.
            ("{{Path}}", "{Path}"),
            ("${Path}", "${Path}"),
            ("awk '{print $1}'", "awk '{print $1}'"),
            ("find -exec {} ;", "find -exec {} ;"),
            ("{", "{"),
            ("}", "}"),
            ("{Path", "{Path"),
            ("{1x}", "{1x}"),
            ("{{{Name}}}", "{2026-01-02_x}"),
            // Unknown names are kept (validation refuses them before this).
            ("{Nope}", "{Nope}"),
        ];
        for (arg, want) in cases {
            assert_eq!(render_arg(arg, &v), want, "{arg:?}");
        }
        // A value holding a placeholder is not expanded again.
        let tricky = RunValues::new(Path::new("/x/{Key}.mp4"), "k", "a", "s", "mp4");
        assert_eq!(render_arg("{Path} {Name}", &tricky), "/x/{Key}.mp4 {Key}");
        let argv = render_command(&["ffprobe".into(), "{Path}".into()], &v);
        assert_eq!(argv.len(), 2, "a path with spaces stays one argument");
        assert_eq!(argv[1], v.path);
    }

    #[test]
    fn environment_mirrors_the_placeholders() {
        let v = values();
        let env = v.env();
        assert_eq!(env.len(), RUN_PLACEHOLDERS.len());
        assert!(env.contains(&("TAPEDECK_NAME", "2026-01-02_x")));
        assert!(env.contains(&("TAPEDECK_DIR", "/data/my recordings/record/live/cam 1")));
        assert!(env.contains(&("TAPEDECK_APP", "live")));
        assert!(env.contains(&("TAPEDECK_STREAM", "cam1")));
        assert!(env.contains(&("TAPEDECK_FORMAT", "mp4")));
    }

    #[test]
    fn unknown_placeholders_are_named() {
        assert_eq!(
            unknown_placeholders("{Path} {Size} {path} ${HOME}"),
            vec!["Size", "path"]
        );
        assert!(unknown_placeholders("{{Size}} {} {print $1}").is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn programs_are_found_by_path_or_name() {
        let sh = find_program("sh").expect("sh is on PATH");
        assert!(sh.is_absolute());
        assert!(find_program("/bin/sh").is_ok());
        let e = find_program("/nonexistent/tapedeck-nothing").unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = find_program("tapedeck-no-such-program-anywhere").unwrap_err();
        assert!(e.contains("not found on PATH"), "{e}");
        let e = find_program("./bin/x").unwrap_err();
        assert!(e.contains("relative path"), "{e}");
        let e = find_program("/").unwrap_err();
        assert!(e.contains("not a file"), "{e}");
        // A file without the execute bit.
        let dir = std::env::temp_dir().join(format!("tapedeck-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("script");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let e = find_program(file.to_str().unwrap()).unwrap_err();
        assert!(e.contains("not executable"), "{e}");
        let e = find_program_in("script", Some(dir.as_os_str())).unwrap_err();
        assert!(e.contains("not found"), "{e}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            find_program_in("script", Some(dir.as_os_str())),
            Ok(file.clone())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    fn parse(text: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::Config::from_toml(text, Path::new("tapedeck.toml"))
    }

    #[cfg(unix)]
    #[test]
    fn validation_names_each_run_field() {
        let t = |run: &str| {
            format!("[[template]]\nformats = [\"m3u8\", \"mp4\"]\n[[template.run]]\n{run}\n")
        };
        let cases: Vec<(String, &str)> = vec![
            (t("command = []"), "template[0].run[0].command"),
            (t("command = [\"\"]"), "template[0].run[0].command"),
            (
                t("command = [\"/nonexistent/tapedeck-x\"]"),
                "template[0].run[0].command",
            ),
            (
                t("command = [\"tapedeck-no-such-program-anywhere\"]"),
                "template[0].run[0].command",
            ),
            (t("command = [\"bin/sh\"]"), "template[0].run[0].command"),
            (
                t("command = [\"{Dir}/x.sh\"]"),
                "template[0].run[0].command",
            ),
            (
                t("command = [\"/bin/sh\", \"{Size}\"]"),
                "template[0].run[0].command",
            ),
            (
                t("command = [\"/bin/sh\", \"a\\u0000b\"]"),
                "template[0].run[0].command",
            ),
            (
                t("command = [\"/bin/sh\"]\non = []"),
                "template[0].run[0].on",
            ),
            (
                t("command = [\"/bin/sh\"]\non = [\"mkv\"]"),
                "template[0].run[0].on",
            ),
            (
                t("command = [\"/bin/sh\"]\non = [\"flv\"]"),
                "template[0].run[0].on",
            ),
            (
                t("command = [\"/bin/sh\"]\ntimeout = 0"),
                "template[0].run[0].timeout",
            ),
            (
                t("command = [\"/bin/sh\"]\ntimeout = \"25h\""),
                "template[0].run[0].timeout",
            ),
            (
                format!(
                    "{}[[template.run]]\ncommand = []\n",
                    t("command = [\"/bin/sh\"]")
                ),
                "template[0].run[1].command",
            ),
            ("[runs]\nmax_parallel = 0".into(), "runs.max_parallel"),
            ("[runs]\nmax_parallel = 65".into(), "runs.max_parallel"),
        ];
        for (text, field) in cases {
            match parse(&text) {
                Err(crate::ConfigError::Invalid { problems, .. }) => assert!(
                    problems.iter().any(|p| p.field == field),
                    "{field} not named for {text:?}: {problems:?}"
                ),
                other => panic!("{text:?} was not refused: {other:?}"),
            }
        }
        // An unknown key is a parse error naming it.
        let e = parse(&t("command = [\"/bin/sh\"]\ntimout = \"1m\"")).unwrap_err();
        assert!(e.to_string().contains("timout"), "{e}");
        // What works, with its defaults.
        let c = parse(&t(
            "command = [\"sh\", \"-c\", \"echo ${TAPEDECK_PATH} {{}}\", \"{Path}\"]\ntimeout = \"24h\"\n[[template.run]]\ncommand = [\"/bin/sh\"]\non = [\"segment\", \"m3u8\"]\ntimeout = 1",
        ))
        .unwrap();
        let runs = &c.template[0].run;
        assert_eq!(runs[0].on, None);
        assert_eq!(runs[0].triggers(), &DEFAULT_ON);
        assert_eq!(runs[0].timeout, Secs(86_400));
        assert_eq!(runs[1].triggers(), &[RunOn::Segment, RunOn::M3u8]);
        assert_eq!(c.runs.max_parallel, 2);
        assert_eq!(parse("").unwrap().template[0].run, Vec::new());
        assert_eq!(
            parse("[runs]\nmax_parallel = 64")
                .unwrap()
                .runs
                .max_parallel,
            64
        );
    }
}
