//! Credentials decrypted at most once per process.
//!
//! Decrypting a credential stored with a passphrase runs age's scrypt at the work factor
//! chosen when it was stored: about a second of CPU and up to 512 MiB of memory
//! (BENCHMARKS.md §4). A one-shot command pays that once, but `rollcall daemon` and
//! `rollcall serve` prepare a run for every scheduled job and every RUN click, so they
//! would pay it again each time. This cache keeps what a credential decrypted to, for as
//! long as the process lives, keyed by everything the result depends on: the data
//! directory, the credential's name, its ciphertext (so a credential stored again with
//! `--replace` is decrypted again) and the key it was decrypted with. A cached value is
//! only ever handed back for the same ciphertext and key, so it is exactly what decrypting
//! again would give.
//!
//! Decryption runs on a blocking thread, never on the async runtime's workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Result, anyhow};
use rollcall_core::secret::Secret;
use rollcall_vault::{KeySource, Named};

/// What a credential decrypted to: input name → value.
pub type Values = Arc<BTreeMap<String, Secret>>;

struct Entry {
    dir: PathBuf,
    name: String,
    ciphertext: Vec<u8>,
    key: KeySource,
    values: Values,
}

impl Entry {
    fn is_for(&self, dir: &Path, name: &str, ciphertext: &[u8], key: &KeySource) -> bool {
        self.dir == dir
            && self.name == name
            && self.ciphertext == ciphertext
            && same_key(&self.key, key)
    }
}

fn same_key(a: &KeySource, b: &KeySource) -> bool {
    match (a, b) {
        (KeySource::IdentityFile(a), KeySource::IdentityFile(b)) => a == b,
        (KeySource::Passphrase(a), KeySource::Passphrase(b)) => a.expose() == b.expose(),
        _ => false,
    }
}

/// How many times this process ran the vault's decryption (for tests).
static DECRYPTIONS: AtomicUsize = AtomicUsize::new(0);

/// Few credentials per process: a list is enough.
fn cache() -> &'static Mutex<Vec<Entry>> {
    static CACHE: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

fn cached(dir: &Path, name: &str, ciphertext: &[u8], key: &KeySource) -> Option<Values> {
    let entries = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    entries
        .iter()
        .find(|e| e.is_for(dir, name, ciphertext, key))
        .map(|e| e.values.clone())
}

/// The values of the credential `named` in the data directory `dir`, stored as
/// `ciphertext`, decrypted with `key` (once per process for the same ciphertext and key).
pub async fn decrypt(
    dir: &Path,
    key: KeySource,
    named: Named<'_>,
    ciphertext: &[u8],
) -> Result<Values> {
    if let Some(values) = cached(dir, named.name, ciphertext, &key) {
        return Ok(values);
    }
    let (name, again) = (named.name.to_owned(), named.again.to_owned());
    let blob = ciphertext.to_vec();
    let job_key = key.clone();
    let decrypted = tokio::task::spawn_blocking(move || {
        let named = Named {
            name: &name,
            again: &again,
        };
        DECRYPTIONS.fetch_add(1, Ordering::Relaxed);
        rollcall_vault::decrypt(&job_key, named, &blob)
    })
    .await
    .map_err(|e| {
        anyhow!(
            "decrypting credential `{}` stopped unexpectedly: {e}",
            named.name
        )
    })??;
    let values: Values = Arc::new(decrypted);
    tracing::debug!(credential = named.name, "decrypted a vault credential");
    let mut entries = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // A credential stored again replaces what its old ciphertext decrypted to.
    entries.retain(|e| !(e.dir == dir && e.name == named.name));
    entries.push(Entry {
        dir: dir.to_path_buf(),
        name: named.name.to_owned(),
        ciphertext: ciphertext.to_vec(),
        key,
        values: values.clone(),
    });
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase(p: &str) -> KeySource {
        KeySource::Passphrase(Secret::new(p))
    }

    fn named(name: &str) -> Named<'_> {
        Named {
            name,
            again: "rollcall credentials add c --connector miro --replace",
        }
    }

    fn token(values: &Values) -> &str {
        values["token"].expose()
    }

    /// One test, because the cache and its counter are the process's.
    #[tokio::test]
    async fn a_credential_is_decrypted_once_per_ciphertext_and_key() {
        let dir = Path::new("/nonexistent/rollcall-unlocked-test");
        let key = passphrase("pass-unlocked-Qx4");
        let secrets = |v: &str| BTreeMap::from([("token".to_owned(), Secret::new(v))]);
        let blob = rollcall_vault::encrypt(&key, &secrets("tok-one"), false).unwrap();
        let before = DECRYPTIONS.load(Ordering::Relaxed);

        let first = decrypt(dir, key.clone(), named("c"), &blob).await.unwrap();
        let again = decrypt(dir, key.clone(), named("c"), &blob).await.unwrap();
        assert_eq!((token(&first), token(&again)), ("tok-one", "tok-one"));
        assert_eq!(DECRYPTIONS.load(Ordering::Relaxed) - before, 1);

        // Another key never gets the cached values: it is really tried, and fails.
        let e = decrypt(dir, passphrase("wrong-Zt8"), named("c"), &blob)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("is not the one it was encrypted with"),
            "{e}"
        );
        // Nor does the same name in another data directory.
        let other_dir = Path::new("/nonexistent/rollcall-unlocked-other");
        decrypt(other_dir, key.clone(), named("c"), &blob)
            .await
            .unwrap();
        assert_eq!(DECRYPTIONS.load(Ordering::Relaxed) - before, 3);

        // Stored again (`--replace`): the new ciphertext is decrypted, and its values win.
        let replaced = rollcall_vault::encrypt(&key, &secrets("tok-two"), false).unwrap();
        let second = decrypt(dir, key.clone(), named("c"), &replaced)
            .await
            .unwrap();
        assert_eq!(token(&second), "tok-two");
        let still = decrypt(dir, key.clone(), named("c"), &replaced)
            .await
            .unwrap();
        assert_eq!(token(&still), "tok-two");
        assert_eq!(DECRYPTIONS.load(Ordering::Relaxed) - before, 4);
    }
}
