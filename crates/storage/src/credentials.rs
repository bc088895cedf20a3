//! Access keys: in the OS keyring (macOS Keychain, Windows Credential Manager, Secret
//! Service on Linux) under the profile's name, or the standard `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` variables on headless servers. Never in the config file, and
//! the secret never appears in `Debug`, logs or error messages.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The keyring service every Tapedeck entry is stored under; the user name is the profile.
pub const KEYRING_SERVICE: &str = "tapedeck";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .finish()
    }
}

/// Where a profile's credentials came from (shown by `tapedeck storage list`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    Keyring,
    Environment,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no credentials for storage profile {profile:?}: run `tapedeck storage login {profile}`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{}", keyring_note(.keyring))]
    Missing {
        profile: String,
        keyring: Option<String>,
    },
    #[error("the OS keyring refused to store the credentials of {profile:?}: {detail}")]
    Store { profile: String, detail: String },
}

fn keyring_note(keyring: &Option<String>) -> String {
    match keyring {
        Some(why) => format!(" (the OS keyring is not available: {why})"),
        None => String::new(),
    }
}

/// A place credentials live. The OS keyring in the product, memory in tests.
pub trait CredentialStore: Send + Sync {
    /// `Ok(None)`: nothing stored for this profile. `Err`: the store itself is unusable.
    fn get(&self, profile: &str) -> Result<Option<Credentials>, String>;
    fn set(&self, profile: &str, credentials: &Credentials) -> Result<(), String>;
    /// Removes the entry; removing nothing is fine.
    fn delete(&self, profile: &str) -> Result<(), String>;
}

/// The operating system's keyring, through the `keyring` crate. One entry per profile
/// holds both keys as JSON.
#[derive(Debug, Default)]
pub struct KeyringStore;

impl KeyringStore {
    fn entry(profile: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYRING_SERVICE, profile).map_err(|e| e.to_string())
    }
}

impl CredentialStore for KeyringStore {
    fn get(&self, profile: &str) -> Result<Option<Credentials>, String> {
        match Self::entry(profile)?.get_password() {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|_| format!("the keyring entry tapedeck/{profile} is not Tapedeck's; run `tapedeck storage login {profile}` again")),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, profile: &str, credentials: &Credentials) -> Result<(), String> {
        let text = serde_json::to_string(credentials).map_err(|e| e.to_string())?;
        Self::entry(profile)?
            .set_password(&text)
            .map_err(|e| e.to_string())
    }

    fn delete(&self, profile: &str) -> Result<(), String> {
        match Self::entry(profile)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Credentials in memory: tests, and the desktop app's "use once, don't save".
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Credentials>>,
}

impl CredentialStore for MemoryStore {
    fn get(&self, profile: &str) -> Result<Option<Credentials>, String> {
        Ok(self.lock().get(profile).cloned())
    }

    fn set(&self, profile: &str, credentials: &Credentials) -> Result<(), String> {
        self.lock().insert(profile.into(), credentials.clone());
        Ok(())
    }

    fn delete(&self, profile: &str) -> Result<(), String> {
        self.lock().remove(profile);
        Ok(())
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Credentials>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The two standard variables, when both are set and not empty.
pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
    let id = env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
    let secret = env("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?;
    Some(Credentials {
        access_key_id: id,
        secret_access_key: secret,
    })
}

/// The credentials of `profile`: the store's entry first, then the environment.
pub fn lookup(
    store: &dyn CredentialStore,
    profile: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Credentials, CredentialSource), CredentialError> {
    let keyring = match store.get(profile) {
        Ok(Some(c)) => return Ok((c, CredentialSource::Keyring)),
        Ok(None) => None,
        Err(why) => Some(why),
    };
    match from_environment(env) {
        Some(c) => Ok((c, CredentialSource::Environment)),
        None => Err(CredentialError::Missing {
            profile: profile.into(),
            keyring,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(id: &str) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            secret_access_key: "s3cr3t-value".into(),
        }
    }

    #[test]
    fn store_first_then_environment() {
        let store = MemoryStore::default();
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("ENVKEY".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("envsecret".to_string()),
            _ => None,
        };
        let (c, src) = lookup(&store, "studio", env).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), src),
            ("ENVKEY", CredentialSource::Environment)
        );
        store.set("studio", &creds("STOREKEY")).unwrap();
        let (c, src) = lookup(&store, "studio", env).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), src),
            ("STOREKEY", CredentialSource::Keyring)
        );
        store.delete("studio").unwrap();
        store.delete("studio").unwrap();
        let err = lookup(&store, "studio", |_| None).unwrap_err().to_string();
        assert!(err.contains("tapedeck storage login studio"), "{err}");
    }

    #[test]
    fn broken_keyring_is_named_and_environment_still_works() {
        struct Broken;
        impl CredentialStore for Broken {
            fn get(&self, _: &str) -> Result<Option<Credentials>, String> {
                Err("no Secret Service on the session bus".into())
            }
            fn set(&self, _: &str, _: &Credentials) -> Result<(), String> {
                Err("no".into())
            }
            fn delete(&self, _: &str) -> Result<(), String> {
                Err("no".into())
            }
        }
        let err = lookup(&Broken, "studio", |_| None).unwrap_err().to_string();
        assert!(err.contains("no Secret Service"), "{err}");
        let env = |k: &str| Some(format!("{k}-value"));
        assert_eq!(
            lookup(&Broken, "studio", env).unwrap().1,
            CredentialSource::Environment
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let text = format!("{:?}", creds("AKIDEXAMPLE"));
        assert!(text.contains("AKIDEXAMPLE"));
        assert!(!text.contains("s3cr3t-value"), "{text}");
    }
}
