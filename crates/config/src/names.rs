//! Stream names as publishers send them, and the rule every name must pass.
//!
//! AppName and StreamName are `[A-Za-z0-9_-]{1,255}` (the cloud feature's rule). It also
//! keeps names safe as path segments on every OS and as object keys, so nothing a
//! publisher sends can steer a file outside the recordings folder.

/// Checks an AppName or StreamName; the error says what is wrong with it.
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if name.len() > 255 {
        return Err(format!(
            "{what} is {} characters long; at most 255 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{what} {name:?} contains {c:?}; only letters, digits, '-' and '_' are allowed"
        ));
    }
    Ok(())
}

/// A publish target split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishName {
    pub app: String,
    pub stream: String,
    /// The query parameters of the stream name (`cam1?key=abc&callback_id=7`), decoded.
    pub args: Vec<(String, String)>,
}

impl PublishName {
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits what an RTMP publisher sends (`connect` app, `publish` name) into app, stream
/// and query arguments, with OBS's and ffmpeg's quirks (REFERENCE.md section 5):
/// - the app may carry its own `?query` (`live?key=x`): its arguments are kept too;
/// - the name is percent-decoded and a trailing `.flv` is removed;
/// - an empty stream key happens when users put the whole path in the Server field: the
///   last path segment of the app is then the stream.
pub fn split_publish_name(app: &str, name: &str) -> PublishName {
    let (mut app_path, app_query) = app.split_once('?').unwrap_or((app, ""));
    let (mut stream_part, stream_query) = name.split_once('?').unwrap_or((name, ""));
    let mut stream = percent_decode(stream_part);
    if stream.is_empty() {
        if let Some((head, last)) = app_path.rsplit_once('/') {
            app_path = head;
            stream_part = last;
            stream = percent_decode(stream_part);
        }
    }
    if let Some(stripped) = stream.strip_suffix(".flv") {
        stream = stripped.to_string();
    }
    let app = app_path.trim_end_matches('/').to_string();
    let mut args = parse_query(app_query);
    args.extend(parse_query(stream_query));
    PublishName { app, stream, args }
}

/// Parses `a=1&b=two` into decoded pairs; a key without `=` gets an empty value.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert!(validate_name("StreamName", "cam_1-A").is_ok());
        assert!(validate_name("StreamName", "")
            .unwrap_err()
            .contains("empty"));
        assert!(validate_name("AppName", "../etc")
            .unwrap_err()
            .contains("'.'"));
        assert!(validate_name("AppName", "a b").is_err());
        assert!(validate_name("AppName", "live/sub").is_err());
        assert!(validate_name("AppName", &"a".repeat(255)).is_ok());
        assert!(validate_name("AppName", &"a".repeat(256))
            .unwrap_err()
            .contains("256"));
        assert!(validate_name("AppName", "caf\u{e9}").is_err());
    }

    #[test]
    fn splits_what_publishers_send() {
        let cases = [
            // (app, name) -> (app, stream, args)
            (("live", "cam1"), ("live", "cam1", vec![])),
            (
                ("live", "cam1?key=s3cret"),
                ("live", "cam1", vec![("key", "s3cret")]),
            ),
            (("live", "cam%5F1.flv"), ("live", "cam_1", vec![])),
            (("live/cam1", ""), ("live", "cam1", vec![])),
            (
                ("live?key=k", "cam1?callback_id=7"),
                ("live", "cam1", vec![("key", "k"), ("callback_id", "7")]),
            ),
            (("live/", "cam1"), ("live", "cam1", vec![])),
            (("live", "a%zz%"), ("live", "a%zz%", vec![])),
        ];
        for ((app, name), (want_app, want_stream, want_args)) in cases {
            let got = split_publish_name(app, name);
            assert_eq!(got.app, want_app, "{app} {name}");
            assert_eq!(got.stream, want_stream, "{app} {name}");
            let args: Vec<(&str, &str)> = got
                .args
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(args, want_args, "{app} {name}");
        }
        assert_eq!(split_publish_name("live", "x?key=a").arg("key"), Some("a"));
    }
}
