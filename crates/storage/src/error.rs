//! Provider errors turned into sentences a streamer understands, and sorted into "the whole
//! bucket is unusable right now" and "this one file had a problem".

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;
use serde::Serialize;

/// What went wrong talking to a bucket, as a sentence naming the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum StorageError {
    #[error("the access key was refused: the key id or the secret of storage profile {profile:?} is wrong; run `tapedeck storage login {profile}` with the right keys")]
    WrongKey { profile: String },
    #[error("{}", wrong_region(.bucket, .configured, .right))]
    WrongRegion {
        bucket: String,
        configured: String,
        /// The region or endpoint the provider named, when it did.
        right: Option<String>,
    },
    #[error("bucket {bucket:?} does not exist at {endpoint}: create it in the provider's console, or correct `bucket` in the profile")]
    NoBucket { bucket: String, endpoint: String },
    #[error("the key of storage profile {profile:?} is not allowed to {action} (bucket {bucket:?}): give it read and write permission on the bucket")]
    Denied {
        profile: String,
        bucket: String,
        action: String,
    },
    #[error("this computer's clock differs from the provider's by more than 15 minutes, so every request is refused: set the clock (turn on automatic time)")]
    ClockSkew,
    #[error("the secure connection to {endpoint} failed ({detail}): check that the endpoint is right (https or http) and that the system's certificates are up to date")]
    Tls { endpoint: String, detail: String },
    #[error("cannot reach {endpoint} ({detail}): check the network connection and the endpoint")]
    Unreachable { endpoint: String, detail: String },
    #[error("{endpoint} is busy or failing ({detail}); Tapedeck keeps retrying")]
    ServerBusy { endpoint: String, detail: String },
    #[error("the upload of {key:?} arrived damaged ({detail}); it is sent again")]
    Integrity { key: String, detail: String },
    #[error("the bucket no longer knows the multipart upload of {key:?} (expired or aborted); it starts over")]
    UploadGone { key: String },
    #[error("bucket {bucket:?} has no object {key:?}: it was deleted (by a lifecycle rule or by hand) or never uploaded")]
    NoObject { bucket: String, key: String },
    #[error("{endpoint} answered {detail}")]
    Other { endpoint: String, detail: String },
}

fn wrong_region(bucket: &str, configured: &str, right: &Option<String>) -> String {
    match right {
        Some(r) => format!(
            "bucket {bucket:?} is not in region {configured:?}: the provider says it is at {r:?}; set `region` (or `endpoint`) to that"
        ),
        None => format!(
            "bucket {bucket:?} does not answer at region {configured:?}: check `region` and `endpoint` in the profile"
        ),
    }
}

impl StorageError {
    /// True when the error is about one file, not the bucket: the queue retries that file
    /// alone and goes on with the others.
    pub fn is_per_file(&self) -> bool {
        matches!(
            self,
            StorageError::Integrity { .. } | StorageError::UploadGone { .. }
        )
    }
}

/// What an error is about, for [`explain`].
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub profile: &'a str,
    pub bucket: &'a str,
    pub region: &'a str,
    pub endpoint: &'a str,
    pub key: &'a str,
    /// Like "write objects" or "list buckets".
    pub action: &'a str,
}

/// The sentence for an SDK error.
pub fn explain<E>(err: &SdkError<E, Response>, cx: Context<'_>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let endpoint = cx.endpoint.to_string();
    match err {
        SdkError::DispatchFailure(_) => {
            let detail = innermost(err);
            if looks_like_tls(&chain(err)) {
                StorageError::Tls { endpoint, detail }
            } else {
                StorageError::Unreachable { endpoint, detail }
            }
        }
        SdkError::TimeoutError(_) => StorageError::Unreachable {
            endpoint,
            detail: "no answer in time".into(),
        },
        SdkError::ServiceError(s) => {
            let raw = s.raw();
            let meta = s.err();
            classify(
                raw.status().as_u16(),
                meta.code(),
                meta.message(),
                raw.headers().get("x-amz-bucket-region"),
                raw.body().bytes(),
                cx,
            )
        }
        // An answer the SDK could not read: say what it said and what the answer was.
        SdkError::ResponseError(r) => {
            let raw = r.raw();
            let body = raw
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            match classify(
                raw.status().as_u16(),
                None,
                None,
                raw.headers().get("x-amz-bucket-region"),
                None,
                cx,
            ) {
                StorageError::Other { .. } => StorageError::Other {
                    endpoint,
                    detail: format!(
                        "an answer that could not be read ({}): {}",
                        chain(err),
                        body.trim().chars().take(600).collect::<String>()
                    ),
                },
                other => other,
            }
        }
        _ => StorageError::Other {
            endpoint,
            detail: chain(err),
        },
    }
}

/// The deepest cause: "Connection refused (os error 111)" rather than five layers of
/// client wrapping.
fn innermost(err: &dyn std::error::Error) -> String {
    let mut last = err;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// The error's message with its causes, as one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn looks_like_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    // rustls speaking to a plain-HTTP port reports a "corrupt message".
    [
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "alert",
    ]
    .iter()
    .any(|w| d.contains(w))
}

/// Sorts a provider's answer. `body` is the raw error document when the SDK kept it.
fn classify(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    bucket_region: Option<&str>,
    body: Option<&[u8]>,
    cx: Context<'_>,
) -> StorageError {
    let body = body.map(String::from_utf8_lossy).unwrap_or_default();
    let message = message.unwrap_or("");
    let code = code.unwrap_or("");
    let wrong_region = |right: Option<String>| StorageError::WrongRegion {
        bucket: cx.bucket.into(),
        configured: cx.region.into(),
        right,
    };
    match code {
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidSecurity" | "InvalidToken" => {
            return StorageError::WrongKey {
                profile: cx.profile.into(),
            }
        }
        "NoSuchBucket" => {
            return StorageError::NoBucket {
                bucket: cx.bucket.into(),
                endpoint: cx.endpoint.into(),
            }
        }
        "NoSuchKey" => {
            return StorageError::NoObject {
                bucket: cx.bucket.into(),
                key: cx.key.into(),
            }
        }
        "RequestTimeTooSkewed" => return StorageError::ClockSkew,
        "NoSuchUpload" => return StorageError::UploadGone { key: cx.key.into() },
        "PermanentRedirect"
        | "AuthorizationHeaderMalformed"
        | "IllegalLocationConstraintException" => {
            let right = bucket_region
                .map(str::to_string)
                .or_else(|| expected_region(message))
                .or_else(|| xml_element(&body, "Endpoint"))
                .or_else(|| xml_element(&body, "Region"));
            return wrong_region(right);
        }
        "BadDigest" | "InvalidDigest" | "IncompleteBody" | "XAmzContentSHA256Mismatch" => {
            return StorageError::Integrity {
                key: cx.key.into(),
                detail: format!("{code}: {message}"),
            }
        }
        "AccessDenied" | "AllAccessDisabled" => {
            // OSS says a wrong endpoint this way, and names the right one.
            if message.contains("must be addressed using the specified endpoint") {
                return wrong_region(xml_element(&body, "Endpoint"));
            }
            return StorageError::Denied {
                profile: cx.profile.into(),
                bucket: cx.bucket.into(),
                action: cx.action.into(),
            };
        }
        _ => {}
    }
    // HEAD requests carry no body: the status alone must do.
    match status {
        301 | 307 => wrong_region(bucket_region.map(str::to_string)),
        400 if bucket_region.is_some_and(|r| r != cx.region) => {
            wrong_region(bucket_region.map(str::to_string))
        }
        401 => StorageError::WrongKey {
            profile: cx.profile.into(),
        },
        403 => StorageError::Denied {
            profile: cx.profile.into(),
            bucket: cx.bucket.into(),
            action: cx.action.into(),
        },
        404 if cx.key.is_empty() => StorageError::NoBucket {
            bucket: cx.bucket.into(),
            endpoint: cx.endpoint.into(),
        },
        404 => StorageError::NoObject {
            bucket: cx.bucket.into(),
            key: cx.key.into(),
        },
        408 | 429 | 500..=599 => StorageError::ServerBusy {
            endpoint: cx.endpoint.into(),
            detail: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status} {code}")
            },
        },
        _ => StorageError::Other {
            endpoint: cx.endpoint.into(),
            detail: match (code.is_empty(), message.is_empty()) {
                (true, _) if !body.trim().is_empty() => {
                    let text: String = body.trim().chars().take(300).collect();
                    format!("HTTP {status}: {text}")
                }
                (true, _) => format!("HTTP {status}"),
                (false, true) => format!("HTTP {status} {code}"),
                (false, false) => format!("HTTP {status} {code}: {message}"),
            },
        },
    }
}

/// AWS: "the region 'us-east-1' is wrong; expecting 'eu-west-1'".
fn expected_region(message: &str) -> Option<String> {
    let rest = message.split("expecting '").nth(1)?;
    Some(rest.split('\'').next()?.to_string())
}

fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</")? + start;
    let value = body[start..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            profile: "studio",
            bucket: "recordings",
            region: "us-east-1",
            endpoint: "https://s3.example.com",
            key: "",
            action: "list its objects",
        }
    }

    #[test]
    fn provider_answers_become_sentences() {
        let e = classify(403, Some("InvalidAccessKeyId"), Some("x"), None, None, cx());
        assert!(
            e.to_string().contains("tapedeck storage login studio"),
            "{e}"
        );
        let e = classify(403, Some("SignatureDoesNotMatch"), None, None, None, cx());
        assert!(matches!(e, StorageError::WrongKey { .. }));
        let e = classify(404, Some("NoSuchBucket"), None, None, None, cx());
        assert!(
            e.to_string().contains("\"recordings\" does not exist"),
            "{e}"
        );
        // HEAD has no body: a bare 404 on the bucket means no bucket.
        assert!(matches!(
            classify(404, None, None, None, None, cx()),
            StorageError::NoBucket { .. }
        ));
        let e = classify(403, Some("RequestTimeTooSkewed"), None, None, None, cx());
        assert!(e.to_string().contains("clock"), "{e}");
        let e = classify(
            403,
            Some("AccessDenied"),
            Some("Access Denied"),
            None,
            None,
            cx(),
        );
        assert!(
            e.to_string().contains("not allowed to list its objects"),
            "{e}"
        );
        let e = classify(503, Some("SlowDown"), None, None, None, cx());
        assert!(matches!(e, StorageError::ServerBusy { .. }));
    }

    #[test]
    fn wrong_region_names_the_right_one() {
        let e = classify(
            400,
            Some("AuthorizationHeaderMalformed"),
            Some("The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"),
            None,
            None,
            cx(),
        );
        assert!(e.to_string().contains("\"eu-west-1\""), "{e}");
        // HEAD on AWS: a bare 301 with the bucket's region in a header.
        let e = classify(301, None, None, Some("ap-south-1"), None, cx());
        assert!(e.to_string().contains("\"ap-south-1\""), "{e}");
        // OSS: AccessDenied naming the endpoint to use.
        let body = b"<Error><Code>AccessDenied</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>s3.oss-cn-shanghai.aliyuncs.com</Endpoint></Error>";
        let e = classify(
            403,
            Some("AccessDenied"),
            Some("The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint."),
            None,
            Some(body),
            cx(),
        );
        assert!(
            e.to_string().contains("s3.oss-cn-shanghai.aliyuncs.com"),
            "{e}"
        );
    }

    #[test]
    fn damaged_uploads_are_per_file() {
        let mut c = cx();
        c.key = "record/a/b/1.ts";
        let e = classify(400, Some("BadDigest"), None, None, None, c);
        assert!(e.is_per_file());
        assert!(!classify(503, None, None, None, None, c).is_per_file());
    }
}
