//! URLs as log lines and error messages may show them.
//!
//! Pull URLs carry secrets: user-info (`https://user:password@host/...`) and query strings
//! (signed CDN tokens, `?key=...`). Every log line and error of the pull code shows a URL
//! through [`url`], which drops both (and a `#fragment`).
//!
//! RTMP stream keys are usually the last path segment (`rtmp://host/app/<key>`); they are
//! not removed here: the path is what tells streams apart in a log.

/// `s` without its user-info, query string and fragment. Works on any string, URL or not
/// (file paths pass through unchanged unless they hold a `?` or `#`); never fails.
pub fn url(s: &str) -> String {
    let (scheme, rest) = match s.find("://") {
        Some(i) => s.split_at(i + 3),
        None => ("", s),
    };
    // The authority runs to the first '/', '?' or '#' after the scheme (RFC 3986 3.2).
    let (authority, path) = if scheme.is_empty() {
        ("", rest)
    } else {
        rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()))
    };
    // User-info ends at the last '@' of the authority (a password may hold one unescaped).
    let host = authority
        .rfind('@')
        .map_or(authority, |i| &authority[i + 1..]);
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    format!("{scheme}{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn strips_user_info_query_and_fragment() {
        for (input, shown) in [
            (
                "https://cdn.example/live/a.m3u8",
                "https://cdn.example/live/a.m3u8",
            ),
            (
                "https://user:p%40ss@cdn.example:8443/live/a.m3u8?token=s3cret&x=1#t=3",
                "https://cdn.example:8443/live/a.m3u8",
            ),
            ("http://user@host/x.flv", "http://host/x.flv"),
            ("http://us@er:pa@ss@host/x.flv", "http://host/x.flv"),
            ("http://host?key=abc", "http://host"),
            ("http://host#frag", "http://host"),
            (
                "http://host/a@b/c.flv?u=me@example",
                "http://host/a@b/c.flv",
            ),
            (
                "http://[::1]:8080/live.flv?k=v",
                "http://[::1]:8080/live.flv",
            ),
            (
                "rtmp://u:p@origin/live/stream?secret=1",
                "rtmp://origin/live/stream",
            ),
            ("/var/media/replay@2x.flv", "/var/media/replay@2x.flv"),
            ("user@host:file.flv", "user@host:file.flv"),
            ("", ""),
            ("://", "://"),
            ("http://user:pass@", "http://"),
        ] {
            assert_eq!(url(input), shown, "{input}");
        }
    }
}
