//! URLs as the log may show them: user-info (`user:password@`) and the query string (where
//! receivers put their tokens) are replaced, the fragment dropped. A stand-in until the
//! ingest crate's `redact::url` serves every crate; kept private so it can go then.

/// `https://user:pw@example.com/hook?token=x#f` -> `https://***@example.com/hook?***`.
pub(crate) fn url(u: &str) -> String {
    let (scheme, rest) = match u.find("://") {
        Some(i) => (&u[..i + 3], &u[i + 3..]),
        None => ("", u),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (before_query, query) = match rest.split_once('?') {
        Some((b, _)) => (b, "?***"),
        None => (rest, ""),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(i) => format!("***@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    format!("{scheme}{authority}{path}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_leave_urls() {
        for (given, shown) in [
            ("https://example.com/hook", "https://example.com/hook"),
            (
                "https://user:pw@example.com:8443/hook?token=abc&x=1#frag",
                "https://***@example.com:8443/hook?***",
            ),
            ("http://a@b@host?q", "http://***@host?***"),
            ("http://host/p@th?k=v", "http://host/p@th?***"),
            ("no-scheme?secret", "no-scheme?***"),
            ("", ""),
        ] {
            assert_eq!(super::url(given), shown, "{given}");
        }
    }
}
