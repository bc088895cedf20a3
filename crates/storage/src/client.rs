//! An S3 client for one profile, configured explicitly: region, endpoint, addressing style,
//! checksums and timeouts come from the profile, never from `~/.aws` or the environment.

use std::time::Duration;

use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::credentials::Credentials;
use crate::profile::StorageProfile;

/// A profile's bucket, ready for requests.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub client: aws_sdk_s3::Client,
    pub profile: StorageProfile,
}

impl Bucket {
    pub fn new(profile: &StorageProfile, credentials: &Credentials) -> Bucket {
        Bucket {
            client: aws_sdk_s3::Client::from_conf(sdk_config(profile, credentials)),
            profile: profile.clone(),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.profile.bucket
    }

    /// The endpoint as people see it in messages.
    pub fn endpoint_label(&self) -> String {
        self.profile.endpoint_label()
    }
}

/// The SDK configuration of a profile.
///
/// Every endpoint that is not AWS gets request checksum calculation and response validation
/// "when required": OSS (and older MinIO) refuse the SDK's default streaming-trailer upload.
/// Tapedeck sends Content-MD5 itself. The SDK does not retry: the upload queue retries with
/// its own backoff, and remembers what was already sent.
pub fn sdk_config(profile: &StorageProfile, credentials: &Credentials) -> aws_sdk_s3::Config {
    let endpoint = profile.endpoint();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(endpoint.region.clone()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            None,
            None,
            "tapedeck",
        ))
        .force_path_style(endpoint.path_style)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build(),
        )
        // A capped upload rate sends slowly on purpose; only a stalled download is an error.
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build(),
        );
    if let Some(url) = endpoint.url {
        b = b.endpoint_url(url);
    }
    if !endpoint.is_aws {
        b = b
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Provider;

    fn profile(provider: Provider) -> StorageProfile {
        let name = serde_json::to_value(provider).unwrap();
        let endpoint = if provider == Provider::Custom {
            "http://127.0.0.1:9000"
        } else {
            ""
        };
        toml::from_str(&format!(
            "name = \"p\"\nprovider = {name}\nregion = \"cn-hangzhou\"\naccount_id = \"acc\"\nendpoint = \"{endpoint}\"\nbucket = \"recordings\""
        ))
        .unwrap()
    }

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
        }
    }

    /// OSS refuses the SDK's default streaming-trailer checksums: every endpoint that is not
    /// AWS calculates and validates checksums only when an operation requires them.
    #[test]
    fn checksums_only_when_required_off_aws() {
        for provider in [Provider::Oss, Provider::R2, Provider::Custom] {
            let c = sdk_config(&profile(provider), &creds());
            assert_eq!(
                c.request_checksum_calculation(),
                Some(&RequestChecksumCalculation::WhenRequired),
                "{provider:?}"
            );
            assert_eq!(
                c.response_checksum_validation(),
                Some(&ResponseChecksumValidation::WhenRequired),
                "{provider:?}"
            );
            assert!(c.retry_config().is_some_and(|r| r.max_attempts() == 1));
        }
        let aws = sdk_config(&profile(Provider::Aws), &creds());
        assert_ne!(
            aws.request_checksum_calculation(),
            Some(&RequestChecksumCalculation::WhenRequired)
        );
    }

    #[test]
    fn region_follows_the_provider() {
        let oss = sdk_config(&profile(Provider::Oss), &creds());
        assert_eq!(oss.region().map(|r| r.as_ref()), Some("cn-hangzhou"));
        let r2 = sdk_config(&profile(Provider::R2), &creds());
        assert_eq!(r2.region().map(|r| r.as_ref()), Some("auto"));
    }
}
