//! Reading a bucket back: its listing under the profile's prefix, ranged reads of one
//! object, and whole objects downloaded to a file. `tapedeck catalog import` reads the tags
//! this way, and the engine fetches the segments a request needs.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use crate::error::{explain, Context, StorageError};
use crate::Bucket;

/// One object of a listing, its key relative to the profile's prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub bytes: u64,
    /// The provider's entity tag, quotes removed: it changes when the object is written
    /// again (empty where a server lists none).
    pub etag: String,
    /// Last written, Unix ms (0 where a server lists none).
    pub modified_ms: i64,
}

impl Listed {
    /// What changes when the object is written again: its entity tag, size and time
    /// together (some servers list no entity tag). Never empty.
    pub fn version(&self) -> String {
        format!("{}/{}/{}", self.etag, self.bytes, self.modified_ms)
    }
}

/// Runs `$call` with the context of `$action` on `$key`, turning SDK errors into sentences.
fn context<'a>(
    bucket: &'a Bucket,
    region: &'a str,
    endpoint: &'a str,
    key: &'a str,
    action: &'a str,
) -> Context<'a> {
    Context {
        profile: &bucket.profile.name,
        bucket: &bucket.profile.bucket,
        region,
        endpoint,
        key,
        action,
    }
}

fn body_error(endpoint: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Unreachable {
        endpoint: endpoint.into(),
        detail: format!("the answer broke off: {e}"),
    }
}

/// Every object under the profile's prefix, in key order (pages of 1,000 followed).
pub async fn list(bucket: &Bucket) -> Result<Vec<Listed>, StorageError> {
    let region = bucket.profile.endpoint().region;
    let endpoint = bucket.endpoint_label();
    let prefix = bucket.profile.object_key("");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = bucket.client.list_objects_v2().bucket(bucket.bucket());
        if !prefix.is_empty() {
            request = request.prefix(&prefix);
        }
        if let Some(t) = &token {
            request = request.continuation_token(t);
        }
        let page = request
            .send()
            .await
            .map_err(|e| explain(&e, context(bucket, &region, &endpoint, "", "list objects")))?;
        for o in page.contents() {
            let Some(key) = o.key().and_then(|k| k.strip_prefix(&prefix)) else {
                continue;
            };
            out.push(Listed {
                key: key.to_string(),
                bytes: o.size().unwrap_or(0).max(0) as u64,
                etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                modified_ms: o
                    .last_modified()
                    .and_then(|t| t.to_millis().ok())
                    .unwrap_or(0),
            });
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Bytes `[from, from + len)` of the object at `key` (relative to the prefix), or fewer at
/// its end.
pub async fn read_range(
    bucket: &Bucket,
    key: &str,
    from: u64,
    len: u64,
) -> Result<Bytes, StorageError> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    let answer = get(
        bucket,
        key,
        Some(format!("bytes={from}-{}", from + len - 1)),
    )
    .await?;
    let endpoint = bucket.endpoint_label();
    Ok(answer
        .collect()
        .await
        .map_err(|e| body_error(&endpoint, e))?
        .into_bytes())
}

/// The whole object at `key`.
pub async fn read_all(bucket: &Bucket, key: &str) -> Result<Bytes, StorageError> {
    let answer = get(bucket, key, None).await?;
    let endpoint = bucket.endpoint_label();
    Ok(answer
        .collect()
        .await
        .map_err(|e| body_error(&endpoint, e))?
        .into_bytes())
}

/// Downloads the object at `key` to `dest` (through a `.download` file renamed into place,
/// so a broken download never leaves a short file under the real name). Returns its size.
pub async fn download(bucket: &Bucket, key: &str, dest: &Path) -> Result<u64, StorageError> {
    let mut answer = get(bucket, key, None).await?;
    let endpoint = bucket.endpoint_label();
    let local = |e: std::io::Error| StorageError::Other {
        endpoint: dest.display().to_string(),
        detail: format!("cannot write the download: {e}"),
    };
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(local)?;
    }
    // Two requests for one key may download it at once: each into its own part.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.download", std::process::id()));
    let part = dest.with_file_name(name);
    let mut file = tokio::fs::File::create(&part).await.map_err(local)?;
    let mut bytes = 0u64;
    let copied = async {
        while let Some(chunk) = answer
            .try_next()
            .await
            .map_err(|e| body_error(&endpoint, e))?
        {
            file.write_all(&chunk).await.map_err(local)?;
            bytes += chunk.len() as u64;
        }
        file.flush().await.map_err(local)?;
        Ok::<_, StorageError>(())
    }
    .await;
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    drop(file);
    tokio::fs::rename(&part, dest).await.map_err(local)?;
    Ok(bytes)
}

async fn get(
    bucket: &Bucket,
    key: &str,
    range: Option<String>,
) -> Result<ByteStream, StorageError> {
    let region = bucket.profile.endpoint().region;
    let endpoint = bucket.endpoint_label();
    let object = bucket.profile.object_key(key);
    let mut request = bucket
        .client
        .get_object()
        .bucket(bucket.bucket())
        .key(&object);
    if let Some(r) = range {
        request = request.range(r);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| explain(&e, context(bucket, &region, &endpoint, key, "read objects")))?;
    Ok(answer.body)
}
