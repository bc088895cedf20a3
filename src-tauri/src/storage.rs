//! The Storage screen's commands: keys go into the OS keyring once and never come back to
//! the window; checks and the bucket list come from the engine, in sentences.

use tapedeck_catalog::Upload;
use tapedeck_engine::{EngineError, ErrorKind, StorageCheck};
use tapedeck_storage::Credentials;
use tauri::State;

use crate::state::AppState;

type Result<T> = std::result::Result<T, EngineError>;

fn store_error(e: String) -> EngineError {
    EngineError::new(
        ErrorKind::Storage,
        format!("the system keyring did not take the keys: {e}"),
    )
}

/// Stores a profile's keys in the OS keyring (macOS Keychain, Windows Credential Manager,
/// Secret Service). They are never written to the configuration or sent back.
#[tauri::command]
pub fn storage_set_keys(
    state: State<'_, AppState>,
    name: String,
    access_key_id: String,
    secret_access_key: String,
) -> Result<()> {
    set_keys(&*state.credentials, &name, access_key_id, secret_access_key)
}

pub fn set_keys(
    store: &dyn tapedeck_storage::CredentialStore,
    name: &str,
    access_key_id: String,
    secret_access_key: String,
) -> Result<()> {
    let (id, secret) = (access_key_id.trim(), secret_access_key.trim());
    if id.is_empty() || secret.is_empty() {
        return Err(EngineError::invalid(
            "enter both the access key id and the secret",
        ));
    }
    store
        .set(
            name,
            &Credentials {
                access_key_id: id.to_string(),
                secret_access_key: secret.to_string(),
            },
        )
        .map_err(store_error)
}

/// Whether keys are stored for the profile (the keys themselves stay in the keyring).
#[tauri::command]
pub fn storage_has_keys(state: State<'_, AppState>, name: String) -> Result<bool> {
    Ok(state.credentials.get(&name).map_err(store_error)?.is_some())
}

/// The profile as the file has it now (a profile saved a moment ago is tested before the
/// engine has picked it up).
fn profile(state: &AppState, name: &str) -> Result<tapedeck_config::StorageProfile> {
    state
        .load_config()?
        .storage
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            EngineError::new(
                ErrorKind::NotFound,
                format!("there is no storage profile named {name:?}; save it first"),
            )
        })
}

/// Lists the account's buckets, checks the profile's, writes and reads back a probe.
#[tauri::command]
pub async fn storage_test(state: State<'_, AppState>, name: String) -> Result<StorageCheck> {
    let profile = profile(&state, &name)?;
    tapedeck_engine::storage::check(
        &profile,
        &*state.credentials,
        &tapedeck_storage::queue::no_env(),
    )
    .await
}

/// The account's buckets (the picker).
#[tauri::command]
pub async fn storage_buckets(state: State<'_, AppState>, name: String) -> Result<Vec<String>> {
    tapedeck_engine::storage::bucket_names(storage_test(state, name).await?)
}

/// The upload queue: waiting and failing files first (and done ones with `with_done`).
#[tauri::command]
pub async fn uploads(
    state: State<'_, AppState>,
    with_done: bool,
    limit: usize,
) -> Result<Vec<Upload>> {
    state
        .engine()
        .await?
        .archive()
        .uploads(with_done, limit.min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_to_the_store_trimmed_and_both_are_needed() {
        let store = tapedeck_storage::MemoryStore::default();
        let e = set_keys(&store, "studio", "id".into(), " ".into()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        set_keys(&store, "studio", " AKID ".into(), "s3cret\n".into()).unwrap();
        use tapedeck_storage::CredentialStore;
        let c = store.get("studio").unwrap().unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKID", "s3cret")
        );
    }
}
