//! The one error type crossing the engine's boundary (to the CLI, the control API and the
//! desktop app's IPC): a kind a program can act on and a sentence a streamer can read.
//! Serialized as `{"kind": "...", "message": "...", "problems": [...]}`.

use serde::{Deserialize, Serialize};
use tapedeck_config::Problem;

/// What went wrong, for a program to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A value given is not valid (`problems` names each field).
    Invalid,
    /// Asked about something that does not exist: a stream that is not live, a profile
    /// that is not configured, a range with nothing recorded.
    NotFound,
    /// Not possible now: busy, already running, shutting down.
    Conflict,
    /// The disk or a file (full, unreadable, permission).
    Io,
    /// A bucket or its credentials.
    Storage,
    /// Something that must run cannot: a port in use, an address that does not bind.
    Unavailable,
    /// Stopped on request.
    Cancelled,
    /// Something that should never happen; the message says what to report.
    Internal,
}

/// An error of the engine's API (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct EngineError {
    pub kind: ErrorKind,
    pub message: String,
    /// For [`ErrorKind::Invalid`]: each problem with its field (`template[1].m3u8.cycle`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

impl EngineError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError {
            kind,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::Conflict, message)
    }

    pub fn io(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::Io, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        EngineError::new(ErrorKind::Internal, message)
    }

    /// Invalid, with every problem named by field.
    pub fn problems(message: impl Into<String>, problems: Vec<Problem>) -> Self {
        EngineError {
            kind: ErrorKind::Invalid,
            message: message.into(),
            problems,
        }
    }
}

impl From<tapedeck_catalog::CatalogError> for EngineError {
    fn from(e: tapedeck_catalog::CatalogError) -> Self {
        EngineError::io(format!("the catalog: {e}"))
    }
}

impl From<tapedeck_config::ConfigError> for EngineError {
    fn from(e: tapedeck_config::ConfigError) -> Self {
        match e {
            tapedeck_config::ConfigError::Invalid { path, problems } => EngineError::problems(
                format!("{} has {} problem(s)", path.display(), problems.len()),
                problems,
            ),
            tapedeck_config::ConfigError::Parse { .. } => EngineError::invalid(e.to_string()),
            tapedeck_config::ConfigError::Read { .. } => EngineError::io(e.to_string()),
        }
    }
}

impl From<tapedeck_storage::StorageError> for EngineError {
    fn from(e: tapedeck_storage::StorageError) -> Self {
        EngineError::new(ErrorKind::Storage, e.to_string())
    }
}

impl From<tapedeck_storage::CredentialError> for EngineError {
    fn from(e: tapedeck_storage::CredentialError) -> Self {
        EngineError::new(ErrorKind::Storage, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON shape is a contract with the app's TypeScript and the control API.
    #[test]
    fn serializes_as_kind_message_problems() {
        let e = EngineError::not_found("live/cam1 is not live");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"not_found","message":"live/cam1 is not live"}"#
        );
        let e = EngineError::problems(
            "tapedeck.toml has 1 problem(s)",
            vec![Problem {
                field: "ingest.idle_timeout".into(),
                message: "must be at least 2s".into(),
            }],
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"invalid","message":"tapedeck.toml has 1 problem(s)","problems":[{"field":"ingest.idle_timeout","message":"must be at least 2s"}]}"#
        );
    }
}
