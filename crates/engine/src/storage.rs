//! Bucket checks for the app's Storage screen and `tapedeck storage test`: the account's
//! buckets (the picker), the profile's bucket, a probe written and read back, each failure
//! as a sentence a streamer can act on.

use serde::{Deserialize, Serialize};
use tapedeck_config::StorageProfile;
use tapedeck_storage::credentials::lookup;
use tapedeck_storage::queue::Env;
use tapedeck_storage::{Bucket, CredentialStore};

use crate::error::{EngineError, ErrorKind};
use crate::Engine;

/// The result of a bucket check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct StorageCheck {
    pub profile: String,
    pub endpoint: String,
    pub bucket: String,
    /// The account's buckets, when the key may list them (many scoped keys may not; that
    /// alone is no failure).
    pub buckets: Option<Vec<String>>,
    pub buckets_error: Option<String>,
    /// Why the bucket cannot be used, if it cannot.
    pub bucket_error: Option<String>,
    /// Why a probe could not be written and read back, if it could not.
    pub write_read_error: Option<String>,
    /// The profile can take uploads.
    pub ok: bool,
}

/// Checks `profile` with the keys `credentials` (or `env`) hold for it.
pub async fn check(
    profile: &StorageProfile,
    credentials: &dyn CredentialStore,
    env: &Env,
) -> Result<StorageCheck, EngineError> {
    let (keys, _) = lookup(credentials, &profile.name, &**env)?;
    let bucket = Bucket::new(profile, &keys);
    let report = tapedeck_storage::check(&bucket).await;
    let ok = report.ok();
    Ok(StorageCheck {
        profile: report.profile,
        endpoint: report.endpoint,
        bucket: report.bucket,
        buckets_error: report.buckets.as_ref().err().map(|e| e.to_string()),
        buckets: report.buckets.ok(),
        bucket_error: report.bucket_found.err().map(|e| e.to_string()),
        write_read_error: report.write_read.err().map(|e| e.to_string()),
        ok,
    })
}

impl Engine {
    /// The profile named `name` of the running configuration.
    pub fn storage_profile(&self, name: &str) -> Result<StorageProfile, EngineError> {
        self.config()
            .storage
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                EngineError::new(
                    ErrorKind::NotFound,
                    format!("there is no storage profile named {name:?}"),
                )
            })
    }

    /// Checks a configured profile (see [`check`]).
    pub async fn storage_check(&self, name: &str) -> Result<StorageCheck, EngineError> {
        let profile = self.storage_profile(name)?;
        check(&profile, &*self.inner().credentials, &self.inner().env).await
    }

    /// The account's buckets, for a picker.
    pub async fn buckets(&self, name: &str) -> Result<Vec<String>, EngineError> {
        bucket_names(self.storage_check(name).await?)
    }
}

/// The account's buckets a check listed, or why it could not.
pub fn bucket_names(report: StorageCheck) -> Result<Vec<String>, EngineError> {
    match (report.buckets, report.buckets_error) {
        (Some(b), _) => Ok(b),
        (None, e) => Err(EngineError::new(
            ErrorKind::Storage,
            e.unwrap_or_else(|| "the buckets could not be listed".into()),
        )),
    }
}
