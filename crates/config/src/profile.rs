//! `[[storage]]` profiles: where a template's files go, and how to reach that bucket.
//!
//! The shape is a public contract (users' files depend on it): fields may be added, never
//! renamed. The endpoint, addressing style and checksum behaviour follow from the provider;
//! nothing is read from `~/.aws` or the environment except the two credential variables.

use serde::{Deserialize, Serialize};

use crate::units::{ByteRate, ByteSize};

/// The kind of S3-compatible service a profile talks to.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Alibaba Cloud OSS through its S3 API (virtual-hosted style only).
    Oss,
    /// Amazon S3.
    Aws,
    /// Cloudflare R2 (region `auto`).
    R2,
    /// MinIO, a local test server or any other S3-compatible endpoint (path style).
    Custom,
}

impl Provider {
    pub fn label(self) -> &'static str {
        match self {
            Provider::Oss => "Alibaba OSS",
            Provider::Aws => "AWS S3",
            Provider::R2 => "Cloudflare R2",
            Provider::Custom => "S3-compatible endpoint",
        }
    }
}

/// One `[[storage]]` table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct StorageProfile {
    /// What templates name in `storage = "..."`; also the keyring entry of its credentials.
    pub name: String,
    pub provider: Provider,
    /// Required for `custom`; derived from the region (and account id) for the others, where
    /// setting it overrides the derived one.
    #[serde(default)]
    pub endpoint: String,
    /// `cn-hangzhou` for OSS, `us-east-1` for AWS; R2 is always `auto`. Default `us-east-1`
    /// for custom endpoints.
    #[serde(default)]
    pub region: String,
    /// Cloudflare account id (R2 only): the endpoint is `https://{account_id}.r2.cloudflarestorage.com`.
    #[serde(default)]
    pub account_id: String,
    pub bucket: String,
    /// Prepended to every key, like `"studio/"`. Default empty.
    #[serde(default)]
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`). Custom endpoints only; default true
    /// there. OSS refuses it.
    #[serde(default)]
    pub path_style: Option<bool>,
    /// `STANDARD`, `STANDARD_IA`, `GLACIER_IR` ... where the provider has classes (OSS
    /// maps the S3 names onto its own). Default: the bucket's default.
    #[serde(default)]
    pub storage_class: String,
    /// Upload bandwidth cap over all of this profile's uploads, like `"20Mbit/s"` or
    /// `"4MB/s"`. Default: no cap.
    #[serde(default)]
    pub max_upload_rate: Option<ByteRate>,
    /// Files uploaded at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Files at least this big go up in parts. Default `16MiB`.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: ByteSize,
    /// Size of each part (at least 5 MiB; raised when a file would need more than 10,000
    /// parts). Default `8MiB`.
    #[serde(default = "default_part_size")]
    pub part_size: ByteSize,
    /// Parts of one file in flight at once. Default 4.
    #[serde(default = "default_parts_in_flight")]
    pub parts_in_flight: usize,
}

fn default_concurrency() -> usize {
    4
}

fn default_parts_in_flight() -> usize {
    4
}

fn default_multipart_threshold() -> ByteSize {
    ByteSize(16 << 20)
}

fn default_part_size() -> ByteSize {
    ByteSize(8 << 20)
}

/// S3's limits on multipart uploads.
pub const MIN_PART: u64 = 5 << 20;
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest single PUT (and largest part).
pub const MAX_PUT: u64 = 5 << 30;

/// Where and how requests go, derived from a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `None`: the SDK's own AWS endpoint resolution for the region.
    pub url: Option<String>,
    pub region: String,
    pub path_style: bool,
    /// AWS itself: the SDK's default checksums apply. Everyone else gets "when required".
    pub is_aws: bool,
}

impl StorageProfile {
    /// The endpoint this profile talks to.
    pub fn endpoint(&self) -> Endpoint {
        let custom_url = (!self.endpoint.is_empty()).then(|| self.endpoint.clone());
        match self.provider {
            Provider::Oss => Endpoint {
                url: Some(
                    custom_url
                        .unwrap_or_else(|| format!("https://s3.oss-{}.aliyuncs.com", self.region)),
                ),
                region: self.region.clone(),
                path_style: false,
                is_aws: false,
            },
            Provider::Aws => Endpoint {
                url: custom_url,
                region: or_default(&self.region, "us-east-1"),
                path_style: self.path_style.unwrap_or(false),
                is_aws: true,
            },
            Provider::R2 => Endpoint {
                url: Some(custom_url.unwrap_or_else(|| {
                    format!("https://{}.r2.cloudflarestorage.com", self.account_id)
                })),
                region: "auto".into(),
                path_style: self.path_style.unwrap_or(false),
                is_aws: false,
            },
            Provider::Custom => Endpoint {
                url: custom_url,
                region: or_default(&self.region, "us-east-1"),
                path_style: self.path_style.unwrap_or(true),
                is_aws: false,
            },
        }
    }

    /// The endpoint as people see it in messages.
    pub fn endpoint_label(&self) -> String {
        let e = self.endpoint();
        e.url
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", e.region))
    }

    /// The bucket key of a file whose local key (path under the recordings folder) is `key`.
    pub fn object_key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// The object's address in the bucket, as a browser or `curl` would fetch it (it
    /// answers only when the bucket or the object is public, or with a presigned query).
    pub fn object_url(&self, key: &str) -> String {
        let e = self.endpoint();
        let base = e
            .url
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", e.region));
        let object = self.object_key(key);
        if e.path_style {
            return format!("{}/{}/{object}", base.trim_end_matches('/'), self.bucket);
        }
        match base.split_once("://") {
            Some((scheme, host)) => format!(
                "{scheme}://{}.{}/{object}",
                self.bucket,
                host.trim_end_matches('/')
            ),
            None => format!("{base}/{}/{object}", self.bucket),
        }
    }

    /// Part size for a file of `bytes`: the configured one, raised so the file fits in
    /// 10,000 parts, and never under 5 MiB.
    pub fn part_size_for(&self, bytes: u64) -> u64 {
        let fit = bytes.div_ceil(MAX_PARTS);
        self.part_size.0.max(fit).max(MIN_PART)
    }

    /// Every problem of this profile as `(field, message)`; `field` is relative to the
    /// profile (`bucket`, `endpoint`, ...).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if !valid_profile_name(&self.name) {
            p.push((
                "name",
                format!(
                    "{:?} is not a profile name: use 1-64 letters, digits, '-' or '_'",
                    self.name
                ),
            ));
        }
        if let Err(e) = check_bucket_name(&self.bucket) {
            p.push(("bucket", e));
        }
        let endpoint_host = ["http://", "https://"]
            .iter()
            .find_map(|s| self.endpoint.strip_prefix(s))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        if !(self.endpoint.is_empty() || endpoint_host.is_some_and(|h| !h.is_empty()))
            || self
                .endpoint
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            p.push((
                "endpoint",
                format!(
                    "{:?} is not a URL: write it like \"https://s3.example.com\" or \"http://127.0.0.1:9000\"",
                    self.endpoint
                ),
            ));
        }
        match self.provider {
            Provider::Oss => {
                if self.region.is_empty() && self.endpoint.is_empty() {
                    p.push((
                        "region",
                        "OSS needs its region id, like \"cn-hangzhou\" or \"eu-central-1\"".into(),
                    ));
                } else if self.region.starts_with("oss-") {
                    p.push((
                        "region",
                        format!(
                            "write the region id without \"oss-\": \"{}\"",
                            &self.region[4..]
                        ),
                    ));
                }
                if self.path_style == Some(true) {
                    p.push((
                        "path_style",
                        "OSS refuses path-style requests; remove path_style".into(),
                    ));
                }
            }
            Provider::R2 => {
                if self.account_id.is_empty() && self.endpoint.is_empty() {
                    p.push((
                        "account_id",
                        "R2 needs the Cloudflare account id (from the R2 dashboard)".into(),
                    ));
                }
            }
            Provider::Custom => {
                if self.endpoint.is_empty() {
                    p.push((
                        "endpoint",
                        "a custom provider needs its endpoint, like \"http://127.0.0.1:9000\""
                            .into(),
                    ));
                }
            }
            Provider::Aws => {}
        }
        // They go into host names and headers: letters, digits and '-' (and '_' for classes).
        for (field, value, extra) in [
            ("region", &self.region, "-"),
            ("account_id", &self.account_id, ""),
            ("storage_class", &self.storage_class, "_"),
        ] {
            if value.len() > 64
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
            {
                p.push((
                    field,
                    format!(
                        "{value:?} is not a {}: at most 64 letters, digits{}",
                        field.replace('_', " "),
                        match extra {
                            "-" => " or '-'",
                            "_" => " or '_'",
                            _ => "",
                        }
                    ),
                ));
            }
        }
        if self.prefix.len() > 512 || self.prefix.chars().any(char::is_control) {
            p.push((
                "prefix",
                "must be at most 512 characters, without control characters".into(),
            ));
        }
        if !self.prefix.is_empty() && (self.prefix.starts_with('/') || self.prefix.contains("..")) {
            p.push((
                "prefix",
                format!(
                    "{:?} must not start with '/' or contain \"..\"",
                    self.prefix
                ),
            ));
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            p.push(("concurrency", "must be 1 to 64".into()));
        }
        if self.parts_in_flight == 0 || self.parts_in_flight > 64 {
            p.push(("parts_in_flight", "must be 1 to 64".into()));
        }
        if self.part_size.0 < MIN_PART {
            p.push((
                "part_size",
                "must be at least 5MiB (S3's smallest part)".into(),
            ));
        }
        if self.part_size.0 > MAX_PUT {
            p.push((
                "part_size",
                "must be at most 5GiB (S3's largest part)".into(),
            ));
        }
        if self.multipart_threshold.0 < MIN_PART {
            p.push(("multipart_threshold", "must be at least 5MiB".into()));
        }
        if self.multipart_threshold.0 > MAX_PUT {
            p.push((
                "multipart_threshold",
                "must be at most 5GiB (S3's largest single upload)".into(),
            ));
        }
        if let Some(rate) = self.max_upload_rate {
            if rate.0 < 8 * 1024 {
                p.push((
                    "max_upload_rate",
                    "is below 64kbit/s: uploads would never keep up with a stream".into(),
                ));
            }
        }
        p
    }
}

fn or_default(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.into()
    } else {
        value.into()
    }
}

pub fn valid_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// S3's bucket naming rules (which OSS and R2 share): 3-63 lowercase letters, digits, '-'
/// and '.', starting and ending with a letter or digit.
pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends(bucket.bytes().next())
        || !ends(bucket.bytes().last())
    {
        return Err(format!(
            "{bucket:?} is not a bucket name: 3-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(provider: Provider) -> StorageProfile {
        StorageProfile {
            name: "studio".into(),
            provider,
            endpoint: String::new(),
            region: String::new(),
            account_id: String::new(),
            bucket: "recordings".into(),
            prefix: String::new(),
            path_style: None,
            storage_class: String::new(),
            max_upload_rate: None,
            concurrency: 4,
            multipart_threshold: default_multipart_threshold(),
            part_size: default_part_size(),
            parts_in_flight: 4,
        }
    }

    #[test]
    fn object_urls_by_addressing_style() {
        let mut oss = profile(Provider::Oss);
        oss.region = "cn-hangzhou".into();
        oss.prefix = "rec/".into();
        assert_eq!(
            oss.object_url("live/a.m3u8"),
            "https://recordings.s3.oss-cn-hangzhou.aliyuncs.com/rec/live/a.m3u8"
        );
        let mut minio = profile(Provider::Custom);
        minio.endpoint = "http://127.0.0.1:9000/".into();
        assert_eq!(
            minio.object_url("live/a.m3u8"),
            "http://127.0.0.1:9000/recordings/live/a.m3u8"
        );
        let mut aws = profile(Provider::Aws);
        aws.region = "eu-west-1".into();
        assert_eq!(
            aws.object_url("x.mp4"),
            "https://recordings.s3.eu-west-1.amazonaws.com/x.mp4"
        );
    }

    #[test]
    fn provider_presets() {
        let mut oss = profile(Provider::Oss);
        oss.region = "cn-hangzhou".into();
        assert_eq!(
            oss.endpoint(),
            Endpoint {
                url: Some("https://s3.oss-cn-hangzhou.aliyuncs.com".into()),
                region: "cn-hangzhou".into(),
                path_style: false,
                is_aws: false,
            }
        );
        let mut r2 = profile(Provider::R2);
        r2.account_id = "abc123".into();
        let e = r2.endpoint();
        assert_eq!(
            e.url.as_deref(),
            Some("https://abc123.r2.cloudflarestorage.com")
        );
        assert_eq!(e.region, "auto");
        assert!(!e.is_aws);
        let aws = profile(Provider::Aws).endpoint();
        assert_eq!(
            (aws.url, aws.region.as_str(), aws.is_aws),
            (None, "us-east-1", true)
        );
        let mut minio = profile(Provider::Custom);
        minio.endpoint = "http://127.0.0.1:9000".into();
        let e = minio.endpoint();
        assert!(e.path_style);
        assert_eq!(e.url.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn problems_name_their_field() {
        let mut p = profile(Provider::Oss);
        p.bucket = "My_Bucket".into();
        p.path_style = Some(true);
        p.part_size = ByteSize(1 << 20);
        let fields: Vec<_> = p.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["bucket", "region", "path_style", "part_size"]);
        let mut c = profile(Provider::Custom);
        assert_eq!(c.problems()[0].0, "endpoint");
        c.endpoint = "127.0.0.1:9000".into();
        assert!(c.problems()[0].1.contains("not a URL"));
        c.endpoint = "http://127.0.0.1:9000".into();
        assert!(c.problems().is_empty());
    }

    #[test]
    fn part_size_fits_ten_thousand_parts() {
        let p = profile(Provider::Custom);
        assert_eq!(p.part_size_for(100 << 20), 8 << 20);
        let huge = 200u64 << 30;
        let part = p.part_size_for(huge);
        assert!(huge.div_ceil(part) <= MAX_PARTS);
        assert!(part > 8 << 20);
    }

    #[test]
    fn bucket_names() {
        assert!(check_bucket_name("recordings").is_ok());
        assert!(check_bucket_name("my.bucket-01").is_ok());
        for bad in ["ab", "Recordings", "-abc", "abc-", "a_b_c", ""] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
