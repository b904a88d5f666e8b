//! rollcall's vault: the secret inputs of a credential, encrypted with [age].
//!
//! A credential's secrets are one JSON object (`{"token": "..."}`) encrypted as one age
//! blob. The store keeps only that blob ([`encrypt`]'s output); [`decrypt`] turns it back
//! into values wrapped in [`Secret`].
//!
//! The key is either
//! - an age X25519 identity file, `vault.key` in the data directory by default, created
//!   on first use with mode 0600 and never overwritten, or
//! - a passphrase (age's scrypt recipient), which, when given, is used instead of the file.
//!
//! Like `rollcall-core`, this crate never reads environment variables or the terminal:
//! [`KeySource::from_env_and_dir`] is handed a function that looks variables up. It reads
//! and writes only the key file it is given.
//!
//! Nothing here destroys anything: a key file that exists is never replaced, and a blob
//! that does not decrypt is reported, not discarded.
//!
//! [age]: https://age-encryption.org

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use rollcall_core::secret::Secret;
use zeroize::Zeroize;

/// The name of the key file inside the data directory.
pub const KEY_FILE_NAME: &str = "vault.key";

/// The environment variable naming another key file (read by the caller, not this crate).
pub const KEY_FILE_ENV: &str = "ROLLCALL_VAULT_KEY_FILE";

/// The environment variable holding a passphrase that replaces the key file (read by the
/// caller, not this crate).
pub const PASSPHRASE_ENV: &str = "ROLLCALL_VAULT_PASSPHRASE";

/// Where the key that encrypts and decrypts credentials comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// An age X25519 identity file (`AGE-SECRET-KEY-1...`, `#` comment lines allowed).
    IdentityFile(PathBuf),
    /// A passphrase, used with age's scrypt recipient.
    Passphrase(Secret),
}

impl KeySource {
    /// The key source for a data directory: the passphrase in [`PASSPHRASE_ENV`] when it is
    /// set and not empty, else the file named by [`KEY_FILE_ENV`] when set and not empty,
    /// else [`KEY_FILE_NAME`] in `data_dir`. `env` looks up an environment variable (the
    /// CLI passes a closure over `std::env::var`; tests pass a map).
    pub fn from_env_and_dir(data_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> KeySource {
        if let Some(p) = env(PASSPHRASE_ENV).filter(|p| !p.is_empty()) {
            return KeySource::Passphrase(Secret::new(p));
        }
        match env(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            Some(path) => KeySource::IdentityFile(PathBuf::from(path)),
            None => KeySource::IdentityFile(data_dir.join(KEY_FILE_NAME)),
        }
    }

    /// The key in words, for messages: `the vault key file PATH` or `the passphrase in
    /// ROLLCALL_VAULT_PASSPHRASE`.
    pub fn describe(&self) -> String {
        match self {
            KeySource::IdentityFile(path) => format!("the vault key file {}", path.display()),
            KeySource::Passphrase(_) => format!("the passphrase in {PASSPHRASE_ENV}"),
        }
    }
}

/// Why the vault could not encrypt or decrypt. Every message says what failed, where, and
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key file needed to decrypt a credential does not exist.
    #[error(
        "cannot decrypt credential `{credential}`: the vault key file {} does not exist, and it holds the only key that can. Restore it from a backup, or point {KEY_FILE_ENV} at it; without it, store the credential again with `{again}`",
        path.display()
    )]
    KeyFileMissing {
        /// The credential being decrypted.
        credential: String,
        /// The command that stores it again.
        again: String,
        /// Where the key file was looked for.
        path: PathBuf,
    },
    /// The key file does not exist and the caller said not to create it (credentials
    /// encrypted with a key file exist, so a new key would not open them).
    #[error(
        "the vault key file {} is missing, but credentials encrypted with a vault key are stored; rollcall will not make a new key, which could not decrypt them. Restore the key file from a backup (or point {KEY_FILE_ENV} at it), or remove those credentials with `rollcall credentials remove NAME` and add them again",
        path.display()
    )]
    KeyMissingWithCredentials {
        /// Where the key file was looked for.
        path: PathBuf,
    },
    /// The key file exists but could not be read.
    #[error("cannot read the vault key file {}: {error}; check its permissions", path.display())]
    KeyFileRead {
        /// The key file.
        path: PathBuf,
        /// The I/O error (in the message, so not reported as the source).
        error: io::Error,
    },
    /// The key file exists but does not hold an age X25519 identity.
    #[error(
        "the vault key file {} is not an age key ({detail}); rollcall leaves it as it is. Restore the right file, or point {KEY_FILE_ENV} at it",
        path.display()
    )]
    KeyFileInvalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A new key file could not be written.
    #[error("cannot create the vault key file {}: {error}; check that its directory is writable", path.display())]
    KeyFileCreate {
        /// The key file.
        path: PathBuf,
        /// The I/O error (in the message, so not reported as the source).
        error: io::Error,
    },
    /// The key file is not the one the credential was encrypted with.
    #[error(
        "cannot decrypt credential `{credential}`: the vault key in {} is not the one it was encrypted with; restore the key file it was stored with (or point {KEY_FILE_ENV} at it), or store the credential again with `{again}`. Nothing was changed",
        path.display()
    )]
    WrongKey {
        /// The credential being decrypted.
        credential: String,
        /// The command that stores it again.
        again: String,
        /// The key file that was tried.
        path: PathBuf,
    },
    /// The passphrase is not the one the credential was encrypted with.
    #[error(
        "cannot decrypt credential `{credential}`: the passphrase in {PASSPHRASE_ENV} is not the one it was encrypted with; set the right one, or store the credential again with `{again}`. Nothing was changed"
    )]
    WrongPassphrase {
        /// The credential being decrypted.
        credential: String,
        /// The command that stores it again.
        again: String,
    },
    /// The credential was encrypted with a passphrase but a key file was given.
    #[error(
        "cannot decrypt credential `{credential}`: it was encrypted with a passphrase, and {PASSPHRASE_ENV} is not set; set it to that passphrase"
    )]
    NeedsPassphrase {
        /// The credential being decrypted.
        credential: String,
    },
    /// The credential was encrypted with a key file but a passphrase was given.
    #[error(
        "cannot decrypt credential `{credential}`: it was encrypted with a vault key file, not a passphrase; unset {PASSPHRASE_ENV} so the key file is used"
    )]
    NeedsKeyFile {
        /// The credential being decrypted.
        credential: String,
    },
    /// The passphrase-encrypted credential asks for far more scrypt work than this machine
    /// accepts.
    #[error(
        "cannot decrypt credential `{credential}`: its passphrase encryption asks for too much work (scrypt 2^{required}, this machine accepts about 2^{target}); store it again with `{again}`"
    )]
    TooMuchWork {
        /// The credential being decrypted.
        credential: String,
        /// The command that stores it again.
        again: String,
        /// The work factor the blob asks for.
        required: u8,
        /// The work factor this machine targets.
        target: u8,
    },
    /// The stored bytes are not a vault blob, or their content is damaged.
    #[error(
        "cannot decrypt credential `{credential}`: the stored data is damaged ({detail}); store it again with `{again}`"
    )]
    Corrupt {
        /// The credential being decrypted.
        credential: String,
        /// The command that stores it again.
        again: String,
        /// What is wrong.
        detail: String,
    },
    /// age refused to encrypt (should not happen).
    #[error("cannot encrypt the credential: {detail}")]
    Encrypt {
        /// The age error.
        detail: String,
    },
}

/// Encrypts `secrets` (input name → value) as one age blob, as a JSON object.
///
/// With [`KeySource::IdentityFile`], a missing key file is created (mode 0600, its
/// directory 0700) only when `create_key_if_missing` is true; otherwise the answer is
/// [`VaultError::KeyMissingWithCredentials`]. An existing key file is never overwritten,
/// even when it is invalid.
pub fn encrypt(
    key: &KeySource,
    secrets: &BTreeMap<String, Secret>,
    create_key_if_missing: bool,
) -> Result<Vec<u8>, VaultError> {
    let mut plaintext = payload(secrets)?;
    let result = match key {
        KeySource::IdentityFile(path) => match load_identity(path, create_key_if_missing, None) {
            Ok(identity) => age::encrypt(&identity.to_public(), &plaintext).map_err(encrypt_error),
            Err(e) => Err(e),
        },
        KeySource::Passphrase(passphrase) => {
            let recipient = age::scrypt::Recipient::new(secret_string(passphrase));
            age::encrypt(&recipient, &plaintext).map_err(encrypt_error)
        }
    };
    plaintext.zeroize();
    result
}

/// A stored credential as the vault's messages name it.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    /// The credential's name.
    pub name: &'a str,
    /// The whole command that stores it again, e.g.
    /// `rollcall credentials add miro-scim --connector miro --replace`, for the messages
    /// about a credential that cannot be decrypted.
    pub again: &'a str,
}

/// Decrypts the blob of the credential `named` into input name → value.
///
/// Never creates, changes or removes anything: a missing key file is
/// [`VaultError::KeyFileMissing`], another key is [`VaultError::WrongKey`] or
/// [`VaultError::WrongPassphrase`].
pub fn decrypt(
    key: &KeySource,
    named: Named<'_>,
    blob: &[u8],
) -> Result<BTreeMap<String, Secret>, VaultError> {
    let name = named.name;
    let again = || named.again.to_owned();
    let corrupt = |detail: String| VaultError::Corrupt {
        credential: name.to_owned(),
        again: again(),
        detail,
    };
    let decryptor =
        age::Decryptor::new_buffered(blob).map_err(|e| corrupt(format!("not an age blob: {e}")))?;
    let with_passphrase = decryptor.is_scrypt();
    let mut plaintext = Vec::new();
    let read = match key {
        KeySource::IdentityFile(path) => {
            if with_passphrase {
                return Err(VaultError::NeedsPassphrase {
                    credential: name.to_owned(),
                });
            }
            let identity = load_identity(path, false, Some(named))?;
            let reader = decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map_err(|e| match e {
                    age::DecryptError::NoMatchingKeys => VaultError::WrongKey {
                        credential: name.to_owned(),
                        again: again(),
                        path: path.clone(),
                    },
                    other => corrupt(other.to_string()),
                })?;
            read_all(reader, &mut plaintext)
        }
        KeySource::Passphrase(passphrase) => {
            if !with_passphrase {
                return Err(VaultError::NeedsKeyFile {
                    credential: name.to_owned(),
                });
            }
            let identity = age::scrypt::Identity::new(secret_string(passphrase));
            let reader = decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map_err(|e| match e {
                    age::DecryptError::NoMatchingKeys
                    | age::DecryptError::DecryptionFailed
                    | age::DecryptError::KeyDecryptionFailed => VaultError::WrongPassphrase {
                        credential: name.to_owned(),
                        again: again(),
                    },
                    age::DecryptError::ExcessiveWork { required, target } => {
                        VaultError::TooMuchWork {
                            credential: name.to_owned(),
                            again: again(),
                            required,
                            target,
                        }
                    }
                    other => corrupt(other.to_string()),
                })?;
            read_all(reader, &mut plaintext)
        }
    };
    let parsed = read
        .map_err(|e| corrupt(format!("the content does not decrypt: {e}")))
        .and_then(|()| {
            serde_json::from_slice::<BTreeMap<String, String>>(&plaintext)
                .map_err(|e| corrupt(format!("the content is not a JSON object of strings: {e}")))
        });
    plaintext.zeroize();
    Ok(parsed?
        .into_iter()
        .map(|(k, mut v)| {
            let secret = Secret::new(v.as_str());
            v.zeroize();
            (k, secret)
        })
        .collect())
}

/// Whether `blob` was encrypted with a passphrase rather than a key file. Anything that is
/// not a readable age blob answers `false`.
pub fn encrypted_with_passphrase(blob: &[u8]) -> bool {
    age::Decryptor::new_buffered(blob).is_ok_and(|d| d.is_scrypt())
}

fn read_all(mut reader: impl Read, out: &mut Vec<u8>) -> io::Result<()> {
    reader.read_to_end(out).map(drop)
}

fn encrypt_error(e: age::EncryptError) -> VaultError {
    VaultError::Encrypt {
        detail: e.to_string(),
    }
}

fn secret_string(s: &Secret) -> SecretString {
    SecretString::from(s.expose().to_owned())
}

/// The JSON object input → value, serialized straight from the borrowed values.
fn payload(secrets: &BTreeMap<String, Secret>) -> Result<Vec<u8>, VaultError> {
    let borrowed: BTreeMap<&str, &str> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    let size: usize = secrets
        .iter()
        .map(|(k, v)| k.len() + v.expose().len() * 2 + 8)
        .sum();
    let mut out = Vec::with_capacity(size + 2);
    serde_json::to_writer(&mut out, &borrowed).map_err(|e| VaultError::Encrypt {
        detail: e.to_string(),
    })?;
    Ok(out)
}

/// Reads the identity in `path`; creates it when missing and `create` is set. `credential`
/// is the credential being decrypted, if any (for the message when the file is missing).
fn load_identity(
    path: &Path,
    create: bool,
    credential: Option<Named<'_>>,
) -> Result<age::x25519::Identity, VaultError> {
    match std::fs::read_to_string(path) {
        Ok(mut text) => {
            let identity = parse_identity(&text, path);
            text.zeroize();
            identity
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match credential {
            Some(credential) => Err(VaultError::KeyFileMissing {
                credential: credential.name.to_owned(),
                again: credential.again.to_owned(),
                path: path.to_path_buf(),
            }),
            None if create => create_identity(path),
            None => Err(VaultError::KeyMissingWithCredentials {
                path: path.to_path_buf(),
            }),
        },
        Err(error) => Err(VaultError::KeyFileRead {
            path: path.to_path_buf(),
            error,
        }),
    }
}

fn parse_identity(text: &str, path: &Path) -> Result<age::x25519::Identity, VaultError> {
    let invalid = |detail: &str| VaultError::KeyFileInvalid {
        path: path.to_path_buf(),
        detail: detail.to_owned(),
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| invalid("it holds no key line"))?;
    line.parse::<age::x25519::Identity>().map_err(|e| {
        invalid(&format!(
            "its key line is not an AGE-SECRET-KEY-1... identity: {e}"
        ))
    })
}

/// Writes a new identity to `path`, refusing to replace any file there. If another
/// process created the file in the meantime, that file is used.
fn create_identity(path: &Path) -> Result<age::x25519::Identity, VaultError> {
    let create_error = |error| VaultError::KeyFileCreate {
        path: path.to_path_buf(),
        error,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(create_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return load_identity(path, false, None);
        }
        Err(e) => return Err(create_error(e)),
    };
    let identity = age::x25519::Identity::generate();
    let mut text = format!(
        "# rollcall vault key: it decrypts the stored credentials. Keep it secret and back it up.\n# public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    text.zeroize();
    if let Err(e) = written {
        drop(file);
        // The file is ours and incomplete; leaving it would block every later attempt.
        let _ = std::fs::remove_file(path);
        return Err(create_error(e));
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "tok-vault-unit-8Hq2Lm";

    fn secrets() -> BTreeMap<String, Secret> {
        BTreeMap::from([
            ("token".to_string(), Secret::new(VALUE)),
            ("other".to_string(), Secret::new("x\"y\\z\n")),
        ])
    }

    /// What the CLI would say to store the tests' credentials again.
    const AGAIN: &str = "rollcall credentials add miro-scim --connector miro --replace";

    fn named(name: &str) -> Named<'_> {
        Named { name, again: AGAIN }
    }

    fn exposed(m: &BTreeMap<String, Secret>) -> BTreeMap<&str, &str> {
        m.iter().map(|(k, v)| (k.as_str(), v.expose())).collect()
    }

    fn key_file(dir: &tempfile::TempDir) -> KeySource {
        KeySource::IdentityFile(dir.path().join("sub").join(KEY_FILE_NAME))
    }

    fn path_of(key: &KeySource) -> &Path {
        match key {
            KeySource::IdentityFile(p) => p,
            KeySource::Passphrase(_) => panic!("not a key file"),
        }
    }

    #[test]
    fn key_file_round_trip_creates_the_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let blob = encrypt(&key, &secrets(), true).unwrap();
        assert!(!blob.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()));
        assert!(!encrypted_with_passphrase(&blob));
        let first_key = std::fs::read(path_of(&key)).unwrap();
        let blob2 = encrypt(&key, &secrets(), true).unwrap();
        assert_eq!(std::fs::read(path_of(&key)).unwrap(), first_key);
        for b in [&blob, &blob2] {
            let back = decrypt(&key, named("c"), b).unwrap();
            assert_eq!(exposed(&back), exposed(&secrets()));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        encrypt(&key, &secrets(), true).unwrap();
        let mode = std::fs::metadata(path_of(&key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(path_of(&key).parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
    }

    #[test]
    fn the_payload_is_one_json_object() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let blob = encrypt(&key, &secrets(), true).unwrap();
        let text = std::fs::read_to_string(path_of(&key)).unwrap();
        let identity = parse_identity(&text, path_of(&key)).unwrap();
        let plain = age::decrypt(&identity, &blob).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(v["token"], VALUE);
        assert_eq!(v["other"], "x\"y\\z\n");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn a_missing_key_is_not_created_when_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let e = encrypt(&key, &secrets(), false).unwrap_err();
        assert!(
            matches!(e, VaultError::KeyMissingWithCredentials { .. }),
            "{e}"
        );
        assert!(e.to_string().contains("will not make a new key"), "{e}");
        assert!(!path_of(&key).exists());
    }

    #[test]
    fn decrypting_with_a_missing_key_file_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let blob = encrypt(&key, &secrets(), true).unwrap();
        std::fs::remove_file(path_of(&key)).unwrap();
        let e = decrypt(&key, named("miro-scim"), &blob).unwrap_err();
        assert!(matches!(e, VaultError::KeyFileMissing { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("cannot decrypt credential `miro-scim`: the vault key file"),
            "{msg}"
        );
        assert!(msg.contains(&path_of(&key).display().to_string()), "{msg}");
        assert!(
            msg.ends_with(&format!("store the credential again with `{AGAIN}`")),
            "{msg}"
        );
        assert!(!path_of(&key).exists());
    }

    #[test]
    fn another_key_is_a_clear_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let other = KeySource::IdentityFile(dir.path().join("other.key"));
        let blob = encrypt(&key, &secrets(), true).unwrap();
        encrypt(&other, &secrets(), true).unwrap();
        let other_before = std::fs::read(path_of(&other)).unwrap();
        let e = decrypt(&other, named("miro-scim"), &blob).unwrap_err();
        assert!(matches!(e, VaultError::WrongKey { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "cannot decrypt credential `miro-scim`: the vault key in {} is not the one it was encrypted with",
                path_of(&other).display()
            )),
            "{msg}"
        );
        assert_eq!(std::fs::read(path_of(&other)).unwrap(), other_before);
        assert_eq!(
            exposed(&decrypt(&key, named("miro-scim"), &blob).unwrap()),
            exposed(&secrets())
        );
    }

    #[test]
    fn an_invalid_key_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        for content in ["", "# only a comment\n", "not a key\n"] {
            std::fs::write(&path, content).unwrap();
            let key = KeySource::IdentityFile(path.clone());
            let e = encrypt(&key, &secrets(), true).unwrap_err();
            assert!(matches!(e, VaultError::KeyFileInvalid { .. }), "{e}");
            assert!(e.to_string().contains("leaves it as it is"), "{e}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[test]
    fn passphrase_round_trip_and_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let right = KeySource::Passphrase(Secret::new("correct horse battery staple"));
        let wrong = KeySource::Passphrase(Secret::new("incorrect horse"));
        let file = key_file(&dir);

        let blob = encrypt(&right, &secrets(), false).unwrap();
        assert!(encrypted_with_passphrase(&blob));
        assert!(!path_of(&file).exists(), "a passphrase needs no key file");
        assert_eq!(
            exposed(&decrypt(&right, named("c"), &blob).unwrap()),
            exposed(&secrets())
        );

        let e = decrypt(&wrong, named("c"), &blob).unwrap_err();
        assert!(matches!(e, VaultError::WrongPassphrase { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("ROLLCALL_VAULT_PASSPHRASE is not the one")
        );

        let e = decrypt(&file, named("c"), &blob).unwrap_err();
        assert!(matches!(e, VaultError::NeedsPassphrase { .. }), "{e}");
        assert!(!path_of(&file).exists());

        let file_blob = encrypt(&file, &secrets(), true).unwrap();
        let e = decrypt(&right, named("c"), &file_blob).unwrap_err();
        assert!(matches!(e, VaultError::NeedsKeyFile { .. }), "{e}");
    }

    #[test]
    fn damaged_blobs_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(&dir);
        let e = decrypt(&key, named("c"), b"plain text").unwrap_err();
        assert!(matches!(e, VaultError::Corrupt { .. }), "{e}");
        let mut blob = encrypt(&key, &secrets(), true).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let e = decrypt(&key, named("c"), &blob).unwrap_err();
        assert!(matches!(e, VaultError::Corrupt { .. }), "{e}");
        assert!(!e.to_string().contains(VALUE));
    }

    #[test]
    fn key_source_from_env() {
        let dir = Path::new("/data");
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let k = KeySource::from_env_and_dir(dir, &env(&[]));
        assert!(matches!(k, KeySource::IdentityFile(p) if p == Path::new("/data/vault.key")));
        let k = KeySource::from_env_and_dir(dir, &env(&[(KEY_FILE_ENV, "/k/other.key")]));
        assert!(matches!(k, KeySource::IdentityFile(p) if p == Path::new("/k/other.key")));
        let k = KeySource::from_env_and_dir(
            dir,
            &env(&[(KEY_FILE_ENV, "/k/other.key"), (PASSPHRASE_ENV, "pw-123")]),
        );
        assert!(matches!(&k, KeySource::Passphrase(p) if p.expose() == "pw-123"));
        assert!(!format!("{k:?}").contains("pw-123"));
        assert!(!k.describe().contains("pw-123"));
        let k = KeySource::from_env_and_dir(dir, &env(&[(PASSPHRASE_ENV, ""), (KEY_FILE_ENV, "")]));
        assert!(matches!(k, KeySource::IdentityFile(p) if p == Path::new("/data/vault.key")));
    }
}
