//! `tapedeck storage test`: can this profile list buckets, find its bucket, and write and
//! read back an object under its prefix?

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;

use crate::client::Bucket;
use crate::error::{explain, Context, StorageError};

/// The probe object, overwritten by every check (nothing is ever deleted from a bucket).
pub const PROBE_KEY: &str = ".tapedeck-probe";

#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub profile: String,
    pub endpoint: String,
    pub bucket: String,
    /// The account's buckets (the app's picker). Many scoped keys may not list them; that
    /// alone is not a failure.
    pub buckets: Result<Vec<String>, StorageError>,
    /// The bucket exists and the key may use it.
    pub bucket_found: Result<(), StorageError>,
    /// A probe object was written under the prefix and read back identical.
    pub write_read: Result<String, StorageError>,
}

impl CheckReport {
    /// The profile can take uploads.
    pub fn ok(&self) -> bool {
        self.bucket_found.is_ok() && self.write_read.is_ok()
    }
}

pub async fn check(bucket: &Bucket) -> CheckReport {
    let p = &bucket.profile;
    let endpoint = bucket.endpoint_label();
    let region = p.endpoint().region;
    let probe_key = p.object_key(PROBE_KEY);
    let cx = |action: &'static str, key: &'static str| Context {
        profile: &p.name,
        bucket: &p.bucket,
        region: &region,
        endpoint: &endpoint,
        key,
        action,
    };
    let buckets = match bucket.client.list_buckets().send().await {
        Ok(out) => Ok(out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()),
        Err(e) => Err(explain(&e, cx("list the account's buckets", ""))),
    };
    let bucket_found = match bucket.client.head_bucket().bucket(&p.bucket).send().await {
        Ok(_) => Ok(()),
        // HEAD answers carry no body: a bare 403 after a refused key is the key.
        Err(e) => match (explain(&e, cx("use the bucket", "")), &buckets) {
            (StorageError::Denied { .. }, Err(wrong @ StorageError::WrongKey { .. })) => {
                Err(wrong.clone())
            }
            (other, _) => Err(other),
        },
    };
    let write_read = match &bucket_found {
        Ok(()) => probe(bucket, &probe_key, cx("write objects", "probe")).await,
        Err(e) => Err(e.clone()),
    };
    CheckReport {
        profile: p.name.clone(),
        endpoint,
        bucket: p.bucket.clone(),
        buckets,
        bucket_found,
        write_read,
    }
}

async fn probe(bucket: &Bucket, key: &str, cx: Context<'_>) -> Result<String, StorageError> {
    let body = format!(
        "Tapedeck wrote this to check that it may write here ({}).\n",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    bucket
        .client
        .put_object()
        .bucket(bucket.bucket())
        .key(key)
        .content_md5(crate::upload::content_md5(body.as_bytes()))
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .map_err(|e| explain(&e, cx))?;
    let read_cx = Context {
        action: "read objects",
        ..cx
    };
    let got = bucket
        .client
        .get_object()
        .bucket(bucket.bucket())
        .key(key)
        .send()
        .await
        .map_err(|e| explain(&e, read_cx))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| StorageError::Unreachable {
            endpoint: cx.endpoint.into(),
            detail: e.to_string(),
        })?
        .into_bytes();
    if bytes != body.as_bytes() {
        return Err(StorageError::Integrity {
            key: key.into(),
            detail: format!(
                "read back {} bytes that differ from the {} written",
                bytes.len(),
                body.len()
            ),
        });
    }
    Ok(key.to_string())
}
