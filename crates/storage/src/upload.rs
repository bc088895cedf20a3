//! One file to one object: a single PUT below the multipart threshold, else a multipart
//! upload whose id and acknowledged parts are written to the catalog as they complete, so a
//! restart continues from the last acknowledged part (ListParts is never trusted). Every
//! request carries Content-MD5, and the object's size is read back before it counts as done.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, StorageClass};
use aws_smithy_types::body::SdkBody;
use base64::Engine;
use bytes::Bytes;
use md5::Digest;
use tapedeck_catalog::{Catalog, Part, Upload};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::task::JoinSet;

use crate::client::Bucket;
use crate::error::{explain, Context, StorageError};
use crate::throttle::{MeteredBody, Throttle};

/// Base64 of the MD5 of `data`: the Content-MD5 header.
pub fn content_md5(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// Why an attempt did not finish.
#[derive(Debug)]
pub enum Failure {
    /// The bucket refused or could not be reached.
    Storage(StorageError),
    /// The local file could not be read (it may come back: a disk hiccup).
    Local(String),
    /// The local file is gone: there is nothing left to upload.
    Gone(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Storage(e) => e.fmt(f),
            Failure::Local(s) | Failure::Gone(s) => f.write_str(s),
        }
    }
}

/// What a finished attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub bytes: u64,
    /// Parts that an earlier attempt had already sent (multipart resume).
    pub resumed_parts: u32,
    pub parts: u32,
    /// A playlist or index went up as a copy without these segments (keys), whose uploads
    /// were lost (see [`crate::playlist`]).
    pub left_out: Vec<String>,
}

/// Everything one attempt needs.
pub struct Job<'a> {
    pub bucket: &'a Bucket,
    pub catalog: &'a Catalog,
    pub row: &'a Upload,
    pub throttle: Option<Arc<Throttle>>,
    /// Bytes of this file sent so far (progress).
    pub sent: Arc<AtomicU64>,
}

impl Job<'_> {
    fn object_key(&self) -> String {
        self.bucket.profile.object_key(&self.row.key)
    }

    fn cx<'s>(&'s self, endpoint: &'s str, region: &'s str, key: &'s str) -> Context<'s> {
        Context {
            profile: &self.bucket.profile.name,
            bucket: &self.bucket.profile.bucket,
            region,
            endpoint,
            key,
            action: "write objects",
        }
    }

    fn storage_class(&self) -> Option<StorageClass> {
        let class = &self.bucket.profile.storage_class;
        (!class.is_empty()).then(|| StorageClass::from(class.as_str()))
    }

    fn body(&self, data: Bytes) -> ByteStream {
        ByteStream::new(SdkBody::from_body_1_x(MeteredBody::new(
            data,
            self.throttle.clone(),
            self.sent.clone(),
        )))
    }

    /// Uploads the file and checks the object's size.
    pub async fn run(&self) -> Result<Sent, Failure> {
        if let Some(sent) = self.without_lost_segments().await? {
            return Ok(sent);
        }
        let meta = match tokio::fs::metadata(&self.row.path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::Gone(format!(
                    "the local file {} is gone, so it cannot be uploaded",
                    self.row.path
                )))
            }
            Err(e) => {
                return Err(Failure::Local(format!(
                    "cannot read {}: {e}",
                    self.row.path
                )))
            }
        };
        let size = meta.len();
        let mtime = mtime_ms(&meta);
        let profile = &self.bucket.profile;
        let sent = if size < profile.multipart_threshold.0 {
            self.put_whole(size).await?
        } else {
            self.multipart(size, mtime).await?
        };
        self.verify(size).await?;
        Ok(sent)
    }

    /// A playlist or index that names segments whose uploads were lost goes up as a copy
    /// without them (one PUT: playlists are small). `None`: upload the file as it is.
    async fn without_lost_segments(&self) -> Result<Option<Sent>, Failure> {
        if !self.row.kind.is_listing() {
            return Ok(None);
        }
        let lost = self
            .catalog
            .lost_keys(&self.row.profile)
            .map_err(|e| Failure::Local(e.to_string()))?;
        if lost.is_empty() {
            return Ok(None);
        }
        let text = tokio::fs::read_to_string(&self.row.path)
            .await
            .map_err(|e| read_failure(&self.row.path, e))?;
        let Some(copy) = crate::playlist::leave_out(&text, &self.row.key, &lost) else {
            return Ok(None);
        };
        let data = copy.text.into_bytes();
        let size = data.len() as u64;
        self.put_bytes(data).await?;
        self.verify(size).await?;
        Ok(Some(Sent {
            bytes: size,
            resumed_parts: 0,
            parts: 1,
            left_out: copy.left_out,
        }))
    }

    async fn put_whole(&self, size: u64) -> Result<Sent, Failure> {
        let data = tokio::fs::read(&self.row.path)
            .await
            .map_err(|e| read_failure(&self.row.path, e))?;
        if data.len() as u64 != size {
            return Err(Failure::Local(format!(
                "{} changed while it was read",
                self.row.path
            )));
        }
        self.put_bytes(data).await?;
        Ok(Sent {
            bytes: size,
            resumed_parts: 0,
            parts: 1,
            left_out: Vec::new(),
        })
    }

    /// One PUT of `data` under the row's object key.
    async fn put_bytes(&self, data: Vec<u8>) -> Result<(), Failure> {
        let size = data.len() as u64;
        let key = self.object_key();
        let (endpoint, region) = self.labels();
        self.sent.store(0, Ordering::Relaxed);
        self.bucket
            .client
            .put_object()
            .bucket(self.bucket.bucket())
            .key(&key)
            .content_length(size as i64)
            .content_md5(content_md5(&data))
            .set_storage_class(self.storage_class())
            .body(self.body(Bytes::from(data)))
            .send()
            .await
            .map_err(|e| Failure::Storage(explain(&e, self.cx(&endpoint, &region, &key))))?;
        Ok(())
    }

    fn labels(&self) -> (String, String) {
        (
            self.bucket.endpoint_label(),
            self.bucket.profile.endpoint().region,
        )
    }

    async fn multipart(&self, size: u64, mtime: i64) -> Result<Sent, Failure> {
        let row = self.row;
        let key = self.object_key();
        let (endpoint, region) = self.labels();
        let cx = self.cx(&endpoint, &region, &key);
        let catalog_err = |e: tapedeck_catalog::CatalogError| Failure::Local(e.to_string());

        // An upload id from an earlier attempt holds only if the file is still the same.
        let mut resume = row
            .upload_id
            .clone()
            .filter(|_| row.bytes == size && row.mtime_ms == mtime && row.part_size.is_some());
        let part_size = match (&resume, row.part_size) {
            (Some(_), Some(p)) => p,
            _ => self.bucket.profile.part_size_for(size),
        };
        if resume.is_none() && row.upload_id.is_some() {
            // The file changed since: start over.
            self.catalog
                .set_multipart(row.id, row.generation, None, part_size, size, mtime)
                .map_err(catalog_err)?;
        }
        let upload_id = match resume.take() {
            Some(id) => id,
            None => {
                let out = self
                    .bucket
                    .client
                    .create_multipart_upload()
                    .bucket(self.bucket.bucket())
                    .key(&key)
                    .set_storage_class(self.storage_class())
                    .send()
                    .await
                    .map_err(|e| Failure::Storage(explain(&e, cx)))?;
                let id = out.upload_id().unwrap_or_default().to_string();
                if id.is_empty() {
                    return Err(Failure::Storage(StorageError::Other {
                        endpoint: endpoint.clone(),
                        detail: "CreateMultipartUpload returned no upload id".into(),
                    }));
                }
                self.catalog
                    .set_multipart(row.id, row.generation, Some(&id), part_size, size, mtime)
                    .map_err(catalog_err)?;
                id
            }
        };

        let count = size.div_ceil(part_size) as i32;
        let mut done: BTreeMap<i32, Part> = self
            .catalog
            .upload_parts(row.id)
            .map_err(catalog_err)?
            .into_iter()
            .filter(|p| p.number >= 1 && p.number <= count)
            .map(|p| (p.number, p))
            .collect();
        let resumed_parts = done.len() as u32;
        self.sent.store(
            done.values().map(|p| p.bytes).sum::<u64>(),
            Ordering::Relaxed,
        );

        let missing: Vec<i32> = (1..=count).filter(|n| !done.contains_key(n)).collect();
        let mut missing = missing.into_iter();
        let mut running: JoinSet<Result<Part, Failure>> = JoinSet::new();
        let in_flight = self.bucket.profile.parts_in_flight.max(1);
        loop {
            while running.len() < in_flight {
                let Some(number) = missing.next() else { break };
                let offset = (number as u64 - 1) * part_size;
                let len = part_size.min(size - offset);
                running.spawn(send_part(
                    self.bucket.clone(),
                    key.clone(),
                    upload_id.clone(),
                    row.path.clone(),
                    number,
                    offset,
                    len,
                    self.throttle.clone(),
                    self.sent.clone(),
                ));
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let part = match joined {
                Ok(Ok(part)) => part,
                Ok(Err(failure)) => {
                    if let Failure::Storage(StorageError::UploadGone { .. }) = &failure {
                        // The bucket dropped the upload (expired or aborted): start over.
                        self.catalog
                            .set_multipart(row.id, row.generation, None, part_size, size, mtime)
                            .map_err(catalog_err)?;
                    }
                    return Err(failure);
                }
                Err(join) => return Err(Failure::Local(format!("part upload stopped: {join}"))),
            };
            if !self
                .catalog
                .add_upload_part(row.id, row.generation, &part)
                .map_err(catalog_err)?
            {
                return Err(Failure::Local("the file was queued again meanwhile".into()));
            }
            done.insert(part.number, part);
        }

        let parts: Vec<CompletedPart> = done
            .values()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        let completed = self
            .bucket
            .client
            .complete_multipart_upload()
            .bucket(self.bucket.bucket())
            .key(&key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        if let Err(e) = completed {
            let err = explain(&e, cx);
            // The object may be complete even so: an earlier attempt whose answer was lost
            // (the bucket no longer knows the upload), or an answer the SDK refuses to read
            // (moto names its root element CompleteMultipartUploadResponse). The object's
            // ETag, derived from the parts' ETags, decides.
            let expected = multipart_etag(done.values().map(|p| p.etag.as_str()));
            if self.head_etag(&key, cx).await?.is_some_and(|(etag, n)| {
                n == size
                    && expected
                        .as_deref()
                        .is_none_or(|x| x == etag.trim_matches('"'))
            }) {
                return Ok(Sent {
                    bytes: size,
                    resumed_parts,
                    parts: count as u32,
                    left_out: Vec::new(),
                });
            }
            if let StorageError::UploadGone { .. } = err {
                self.catalog
                    .set_multipart(row.id, row.generation, None, part_size, size, mtime)
                    .map_err(catalog_err)?;
            }
            return Err(Failure::Storage(err));
        }
        Ok(Sent {
            bytes: size,
            resumed_parts,
            parts: count as u32,
            left_out: Vec::new(),
        })
    }

    async fn head_size(&self, key: &str, cx: Context<'_>) -> Result<Option<u64>, Failure> {
        Ok(self.head_etag(key, cx).await?.map(|(_, n)| n))
    }

    /// The object's ETag and size, if it exists.
    async fn head_etag(
        &self,
        key: &str,
        cx: Context<'_>,
    ) -> Result<Option<(String, u64)>, Failure> {
        match self
            .bucket
            .client
            .head_object()
            .bucket(self.bucket.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .content_length()
                .map(|n| (out.e_tag().unwrap_or_default().to_string(), n as u64))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(Failure::Storage(explain(&e, cx))),
        }
    }

    /// The object must exist with the file's size.
    async fn verify(&self, size: u64) -> Result<(), Failure> {
        let key = self.object_key();
        let (endpoint, region) = self.labels();
        let cx = self.cx(&endpoint, &region, &key);
        match self.head_size(&key, cx).await? {
            Some(n) if n == size => Ok(()),
            found => Err(Failure::Storage(StorageError::Integrity {
                key,
                detail: match found {
                    Some(n) => format!("the bucket holds {n} bytes, the file has {size}"),
                    None => "the object is not in the bucket after the upload".into(),
                },
            })),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_part(
    bucket: Bucket,
    key: String,
    upload_id: String,
    path: String,
    number: i32,
    offset: u64,
    len: u64,
    throttle: Option<Arc<Throttle>>,
    sent: Arc<AtomicU64>,
) -> Result<Part, Failure> {
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| read_failure(&path, e))?;
    file.seek(SeekFrom::Start(offset))
        .await
        .map_err(|e| read_failure(&path, e))?;
    let mut data = vec![0u8; len as usize];
    file.read_exact(&mut data)
        .await
        .map_err(|e| read_failure(&path, e))?;
    let md5 = content_md5(&data);
    let body = ByteStream::new(SdkBody::from_body_1_x(MeteredBody::new(
        Bytes::from(data),
        throttle,
        sent,
    )));
    let out = bucket
        .client
        .upload_part()
        .bucket(bucket.bucket())
        .key(&key)
        .upload_id(&upload_id)
        .part_number(number)
        .content_length(len as i64)
        .content_md5(md5)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let endpoint = bucket.endpoint_label();
            let region = bucket.profile.endpoint().region;
            Failure::Storage(explain(
                &e,
                Context {
                    profile: &bucket.profile.name,
                    bucket: &bucket.profile.bucket,
                    region: &region,
                    endpoint: &endpoint,
                    key: &key,
                    action: "write objects",
                },
            ))
        })?;
    let etag = out.e_tag().unwrap_or_default().to_string();
    if etag.is_empty() {
        return Err(Failure::Storage(StorageError::Integrity {
            key,
            detail: format!("part {number} was acknowledged without an ETag"),
        }));
    }
    Ok(Part {
        number,
        etag,
        bytes: len,
    })
}

fn read_failure(path: &str, e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::NotFound {
        Failure::Gone(format!(
            "the local file {path} is gone, so it cannot be uploaded"
        ))
    } else {
        Failure::Local(format!("cannot read {path}: {e}"))
    }
}

/// The ETag S3 gives a multipart object: the MD5 of the parts' binary MD5s, a dash and the
/// part count. `None` when a part's ETag is not a plain MD5 (some providers differ).
pub fn multipart_etag<'a>(part_etags: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut all = Vec::new();
    let mut n = 0;
    for etag in part_etags {
        let hex = etag.trim_matches('"');
        if hex.len() != 32 {
            return None;
        }
        for i in (0..32).step_by(2) {
            all.push(u8::from_str_radix(&hex[i..i + 2], 16).ok()?);
        }
        n += 1;
    }
    let digest = md5::Md5::digest(&all);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{hex}-{n}"))
}

pub use tapedeck_catalog::mtime_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_is_base64_of_the_digest() {
        // RFC 1864's example digest of "" is 1B2M2Y8AsgTpgAmY7PhCfg==.
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn multipart_etag_matches_s3s() {
        // Two parts whose ETags are the MD5s of "a" and "b": S3's object ETag is
        // md5(md5("a") || md5("b")) + "-2".
        let a = "\"0cc175b9c0f1b6a831c399e269772661\"";
        let b = "92eb5ffee6ae2fec3ad71c777531578f";
        let etag = multipart_etag([a, b].into_iter()).unwrap();
        let mut both = Vec::new();
        both.extend_from_slice(&md5::Md5::digest(b"a"));
        both.extend_from_slice(&md5::Md5::digest(b"b"));
        let expected: String = md5::Md5::digest(&both)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(etag, format!("{expected}-2"));
        assert_eq!(multipart_etag(["not-an-md5"].into_iter()), None);
    }
}
