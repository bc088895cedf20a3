//! Who may talk to the control API: every request passes three checks before it reaches a
//! handler, in this order.
//!
//! 1. `Host` must name this server: its listen address, or `localhost`, `127.0.0.1` or
//!    `[::1]` with its port (`localhost` also without). Anything else is 403: a web page
//!    that rebinds its own domain name to 127.0.0.1 (DNS rebinding) still sends its
//!    domain as `Host`.
//! 2. A request carrying `Origin` comes from a browser; only the desktop app's own origins
//!    ([`ALLOWED_ORIGINS`]) pass, anything else is 403. A web page the streamer opens
//!    cannot hide its origin on a POST.
//! 3. `Authorization: Bearer <token>` must carry the token of `<data_dir>/state/control.token`
//!    (compared in constant time); a missing or wrong one is 401.
//!
//! No response carries CORS headers, preflights (`OPTIONS`) included: no browser page is
//! ever allowed to read an answer or send a non-simple request.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

use super::Answer;

/// The desktop app's origins (Tauri: `tauri://localhost` on macOS and Linux,
/// `http(s)://tauri.localhost` on Windows). Nothing else may call the API from a browser
/// engine.
pub const ALLOWED_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// What the checks compare against.
#[derive(Clone, Debug)]
pub struct Guard {
    token: Arc<str>,
    /// Every accepted `Host` value, lower case.
    hosts: Arc<[String]>,
}

impl Guard {
    /// For a server listening on `local` (the bound address) as configured by `listen`.
    pub fn new(token: String, listen: &str, local: SocketAddr) -> Guard {
        let port = local.port();
        let mut hosts = vec![
            "localhost".to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
            local.to_string(),
        ];
        if !listen.is_empty() {
            hosts.push(listen.to_ascii_lowercase());
        }
        hosts.sort();
        hosts.dedup();
        Guard {
            token: token.into(),
            hosts: hosts.into(),
        }
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let host = host.trim().to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let given = token.trim().as_bytes();
        let want = self.token.as_bytes();
        // Lengths are public (every token has 64 digits); the bytes are compared without
        // an early exit.
        given.len() == want.len() && bool::from(given.ct_eq(want))
    }
}

fn refuse(status: StatusCode, error: &str) -> Response {
    let mut r = (
        status,
        Json(Answer {
            ok: false,
            error: Some(error.to_string()),
        }),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        if let Ok(v) = "Bearer".parse() {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// The middleware: Host, then Origin, then the token.
pub async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !guard.host_ok(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "this Host is not the control API's own address",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| ALLOWED_ORIGINS.contains(&o.trim()));
        if !allowed {
            return refuse(
                StatusCode::FORBIDDEN,
                "requests from web pages are not accepted",
            );
        }
    }
    if request.method() == Method::OPTIONS {
        // A preflight carries no credentials; it gets an answer that allows nothing.
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        if let Ok(v) = "GET, POST".parse() {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return r;
    }
    if !guard.token_ok(headers) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong control token (Authorization: Bearer <the token in data_dir/state/control.token>)",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts_and_tokens() {
        let g = Guard::new(
            "ab".repeat(32),
            "127.0.0.1:8935",
            "127.0.0.1:8935".parse().unwrap(),
        );
        for ok in [
            "127.0.0.1:8935",
            "localhost:8935",
            "LOCALHOST",
            "[::1]:8935",
            "localhost",
        ] {
            assert!(g.host_ok(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example:8935",
            "127.0.0.1:80",
            "127.0.0.1",
            "localhost.evil.example:8935",
            "",
        ] {
            assert!(!g.host_ok(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!g.host_ok(&HeaderMap::new()));
        let token = "ab".repeat(32);
        assert!(g.token_ok(&headers(&[("authorization", &format!("Bearer {token}"))])));
        assert!(g.token_ok(&headers(&[("authorization", &format!("bearer {token}"))])));
        assert!(!g.token_ok(&headers(&[("authorization", &format!("Basic {token}"))])));
        assert!(!g.token_ok(&headers(&[(
            "authorization",
            &format!("Bearer {}", "ab".repeat(31))
        )])));
        assert!(!g.token_ok(&headers(&[(
            "authorization",
            &format!("Bearer {}", "ac".repeat(32))
        )])));
        assert!(!g.token_ok(&HeaderMap::new()));
    }
}
