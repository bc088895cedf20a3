//! Object storage: S3-compatible profiles (Alibaba OSS, AWS S3, Cloudflare R2, MinIO and
//! other custom endpoints), credentials in the OS keyring, provider checks with errors a
//! streamer understands, and the uploader that drains the catalog's durable queue.
//!
//! Library code never prints: the uploader reports [`UploadEvent`]s.

#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod credentials;
pub mod error;
pub mod playlist;
/// Profiles are part of the configuration (`tapedeck-config`); re-exported here.
pub use tapedeck_config::profile;
pub mod queue;
pub mod read;
pub mod retention;
pub mod throttle;
pub use tapedeck_config::units;
pub mod upload;

/// The SDK, for callers that need more than the queue (tests, the app's bucket browser).
pub use aws_sdk_s3;
pub use check::{check, CheckReport};
pub use client::Bucket;
pub use credentials::{
    CredentialError, CredentialSource, CredentialStore, Credentials, KeyringStore, MemoryStore,
};
pub use error::StorageError;
pub use profile::{Provider, StorageProfile};
pub use queue::{UploadEvent, Waker};
pub use units::{ByteRate, ByteSize, KeepLocal};
