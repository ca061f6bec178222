//! Named keys in one JSON file, each mnemonic encrypted with AES-256-GCM under a key that scrypt
//! derives from the entry's password.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use super::Key;
use crate::ChainError;

/// scrypt cost 2^15 with r = 8, p = 1: 32 MiB and about 0.1 s per unlock.
pub const DEFAULT_SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const FILE_VERSION: u32 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// A key as listed without its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    /// The SEC1 compressed public key, hex.
    pub public_key_hex: String,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    version: u32,
    keys: BTreeMap<String, Entry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    public_key: String,
    kdf: ScryptParams,
    /// Base64 of the 12-byte AES-GCM nonce.
    nonce: String,
    /// Base64 of the encrypted mnemonic and its 16-byte tag.
    ciphertext: String,
    /// The key's HD index, m/44'/118'/0'/0/{index} (absent: 0, as entries written before it).
    #[serde(default, skip_serializing_if = "is_zero")]
    index: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Stored per entry so entries written with other costs still open.
#[derive(Clone, Serialize, Deserialize)]
struct ScryptParams {
    log_n: u8,
    r: u32,
    p: u32,
    /// Base64 of the 16-byte salt.
    salt: String,
}

/// Keys stored in one file. Reads happen in [`Keyring::open`]; every change rewrites the file
/// atomically with owner-only permissions.
pub struct Keyring {
    path: PathBuf,
    scrypt_log_n: u8,
    keys: BTreeMap<String, Entry>,
}

impl Keyring {
    /// Opens the keyring at `path`; a missing file is an empty keyring, created on the first add.
    pub fn open(path: impl AsRef<Path>) -> Result<Keyring, ChainError> {
        let path = path.as_ref().to_path_buf();
        let keys = match fs::read_to_string(&path) {
            Ok(text) => {
                let file: KeyringFile = serde_json::from_str(&text).map_err(|e| {
                    keyring_error(
                        &path,
                        format!("not a keyring file ({e}); was it edited by hand?"),
                    )
                })?;
                if file.version != FILE_VERSION {
                    return Err(keyring_error(
                        &path,
                        format!(
                            "file version {} is not supported (this build reads version {FILE_VERSION}); upgrade kumo",
                            file.version
                        ),
                    ));
                }
                file.keys
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(keyring_error(&path, format!("cannot read it: {e}"))),
        };
        Ok(Keyring {
            path,
            scrypt_log_n: DEFAULT_SCRYPT_LOG_N,
            keys,
        })
    }

    /// The scrypt cost (log2 N) for keys added from now on. Lower it only in tests.
    pub fn with_scrypt_log_n(mut self, log_n: u8) -> Keyring {
        self.scrypt_log_n = log_n;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `mnemonic` (validated first) under `name`, encrypted with `password`.
    pub fn add(
        &mut self,
        name: &str,
        mnemonic: &str,
        password: &str,
    ) -> Result<KeyInfo, ChainError> {
        self.add_with_index(name, mnemonic, 0, password)
    }

    /// As [`Keyring::add`], for the key at HD index `index` of the mnemonic (several accounts of
    /// one mnemonic, as the SDK's `keys add --recover --index`).
    pub fn add_with_index(
        &mut self,
        name: &str,
        mnemonic: &str,
        index: u32,
        password: &str,
    ) -> Result<KeyInfo, ChainError> {
        validate_name(name)?;
        if self.keys.contains_key(name) {
            return Err(ChainError::KeyExists { name: name.into() });
        }
        let phrase = super::bip39::normalize(mnemonic)?;
        let key = Key::from_mnemonic_index(&phrase, index)?;

        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let kdf = ScryptParams {
            log_n: self.scrypt_log_n,
            r: SCRYPT_R,
            p: SCRYPT_P,
            salt: B64.encode(salt),
        };
        let cipher = self.cipher(&kdf, &salt, password)?;
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: phrase.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| keyring_error(&self.path, "encryption failed".into()))?;

        let info = KeyInfo {
            name: name.into(),
            public_key_hex: hex::encode(key.public_key_bytes()),
        };
        let mut keys = self.keys.clone();
        keys.insert(
            name.into(),
            Entry {
                public_key: info.public_key_hex.clone(),
                kdf,
                nonce: B64.encode(nonce),
                ciphertext: B64.encode(ciphertext),
                index,
            },
        );
        self.save(&keys)?;
        self.keys = keys;
        Ok(info)
    }

    /// Decrypts the key `name`.
    pub fn get(&self, name: &str, password: &str) -> Result<Key, ChainError> {
        let entry = self.entry(name)?;
        let corrupt = |what: &str| {
            keyring_error(
                &self.path,
                format!("the entry for key {name:?} is corrupt: {what}"),
            )
        };
        let salt = B64
            .decode(&entry.kdf.salt)
            .map_err(|_| corrupt("bad salt"))?;
        let nonce = B64.decode(&entry.nonce).map_err(|_| corrupt("bad nonce"))?;
        let ciphertext = B64
            .decode(&entry.ciphertext)
            .map_err(|_| corrupt("bad ciphertext"))?;
        if nonce.len() != NONCE_LEN {
            return Err(corrupt("bad nonce"));
        }
        let cipher = self.cipher(&entry.kdf, &salt, password)?;
        // The name is authenticated data, so an entry copied under another name does not open.
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| ChainError::WrongPassword { name: name.into() })?;
        let phrase = String::from_utf8(plaintext).map_err(|_| corrupt("not a mnemonic"))?;
        let key = Key::from_mnemonic_index(&phrase, entry.index)
            .map_err(|_| corrupt("not a mnemonic"))?;
        if hex::encode(key.public_key_bytes()) != entry.public_key {
            return Err(corrupt("its public key does not match its mnemonic"));
        }
        Ok(key)
    }

    /// Every key, by name.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|(name, entry)| KeyInfo {
                name: name.clone(),
                public_key_hex: entry.public_key.clone(),
            })
            .collect()
    }

    /// Deletes the key `name`; no password, as with the SDK's keyring.
    pub fn remove(&mut self, name: &str) -> Result<(), ChainError> {
        self.entry(name)?;
        let mut keys = self.keys.clone();
        keys.remove(name);
        self.save(&keys)?;
        self.keys = keys;
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<&Entry, ChainError> {
        self.keys.get(name).ok_or_else(|| ChainError::KeyNotFound {
            name: name.into(),
            path: self.path.clone(),
        })
    }

    fn cipher(
        &self,
        kdf: &ScryptParams,
        salt: &[u8],
        password: &str,
    ) -> Result<Aes256Gcm, ChainError> {
        let params = scrypt::Params::new(kdf.log_n, kdf.r, kdf.p, 32).map_err(|e| {
            keyring_error(
                &self.path,
                format!("invalid scrypt parameters (log_n {}): {e}", kdf.log_n),
            )
        })?;
        let mut key = [0u8; 32];
        scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
            .map_err(|e| keyring_error(&self.path, format!("scrypt failed: {e}")))?;
        Ok(Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&key)))
    }

    /// Writes a temporary file beside the keyring and renames it over, so a crash leaves the old
    /// or the new keyring, never half of one.
    fn save(&self, keys: &BTreeMap<String, Entry>) -> Result<(), ChainError> {
        let io_error = |what: &str, e: std::io::Error| {
            keyring_error(&self.path, format!("cannot {what}: {e}"))
        };
        let json = serde_json::to_vec_pretty(&KeyringFile {
            version: FILE_VERSION,
            keys: keys.clone(),
        })?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| io_error("create its directory", e))?;
        let file_name = self
            .path
            .file_name()
            .ok_or_else(|| keyring_error(&self.path, "the path has no file name".into()))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            // `mode` applies only when the file is created; a stale temporary file keeps its own.
            #[cfg(unix)]
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error("write it", e)
        })
    }
}

fn validate_name(name: &str) -> Result<(), ChainError> {
    let invalid = |reason: &str| ChainError::InvalidKeyName {
        name: name.into(),
        reason: reason.into(),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("it must be 1 to 64 characters"));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("it must not contain spaces or control characters"));
    }
    Ok(())
}

fn keyring_error(path: &Path, reason: String) -> ChainError {
    ChainError::Keyring {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    const LEGAL: &str =
        "legal winner thank year wave sausage worth useful legal winner thank yellow";
    const CHEAP: u8 = 4;

    fn keyring(dir: &tempfile::TempDir) -> Keyring {
        Keyring::open(dir.path().join("keys").join("keyring.json"))
            .unwrap()
            .with_scrypt_log_n(CHEAP)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        assert!(ring.list().is_empty());
        let info = ring.add("alice", ABANDON, "pw-a").unwrap();
        ring.add("bob", LEGAL, "pw-b").unwrap();
        let expected = Key::from_mnemonic(ABANDON).unwrap();
        assert_eq!(
            info.public_key_hex,
            hex::encode(expected.public_key_bytes())
        );

        // A fresh handle reads what the first wrote.
        let ring = Keyring::open(ring.path()).unwrap();
        let names: Vec<_> = ring.list().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        let alice = ring.get("alice", "pw-a").unwrap();
        assert_eq!(
            alice.address("cosmos").unwrap(),
            "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4"
        );
        let bob = ring.get("bob", "pw-b").unwrap();
        assert_eq!(
            bob.public_key_bytes(),
            Key::from_mnemonic(LEGAL).unwrap().public_key_bytes()
        );
    }

    #[test]
    fn hd_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        let info = ring.add_with_index("second", ABANDON, 1, "pw").unwrap();
        let expected = Key::from_mnemonic_index(ABANDON, 1).unwrap();
        assert_eq!(
            info.public_key_hex,
            hex::encode(expected.public_key_bytes())
        );
        let ring = Keyring::open(ring.path()).unwrap();
        let key = ring.get("second", "pw").unwrap();
        assert_eq!(key.public_key_bytes(), expected.public_key_bytes());
        assert_ne!(
            key.public_key_bytes(),
            Key::from_mnemonic(ABANDON).unwrap().public_key_bytes()
        );
    }

    #[test]
    fn wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        ring.add("alice", ABANDON, "right").unwrap();
        let err = ring.get("alice", "wrong").unwrap_err();
        assert!(matches!(err, ChainError::WrongPassword { .. }), "{err}");
        assert!(err.to_string().contains("password is wrong"));
    }

    #[test]
    fn duplicate_unknown_and_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        ring.add("alice", ABANDON, "pw").unwrap();
        assert!(matches!(
            ring.add("alice", LEGAL, "pw"),
            Err(ChainError::KeyExists { .. })
        ));
        assert!(matches!(
            ring.get("carol", "pw"),
            Err(ChainError::KeyNotFound { .. })
        ));
        assert!(matches!(
            ring.remove("carol"),
            Err(ChainError::KeyNotFound { .. })
        ));
        assert!(matches!(
            ring.add("", LEGAL, "pw"),
            Err(ChainError::InvalidKeyName { .. })
        ));
        assert!(matches!(
            ring.add("bob", "abandon", "pw"),
            Err(ChainError::InvalidMnemonic(_))
        ));
        // Failed adds leave nothing behind.
        assert_eq!(Keyring::open(ring.path()).unwrap().list().len(), 1);
    }

    #[test]
    fn remove() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        ring.add("alice", ABANDON, "pw").unwrap();
        ring.add("bob", LEGAL, "pw").unwrap();
        ring.remove("alice").unwrap();
        let ring = Keyring::open(ring.path()).unwrap();
        assert_eq!(ring.list().len(), 1);
        assert!(matches!(
            ring.get("alice", "pw"),
            Err(ChainError::KeyNotFound { .. })
        ));
        ring.get("bob", "pw").unwrap();
    }

    #[test]
    fn file_is_encrypted_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        ring.add("alice", LEGAL, "pw").unwrap();
        let text = fs::read_to_string(ring.path()).unwrap();
        for word in ["legal", "winner", "thank", "sausage", "yellow"] {
            assert!(!text.contains(word), "{word} is in the file");
        }
        // Only the keyring is left in the directory: no temporary files.
        let files: Vec<_> = fs::read_dir(ring.path().parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(ring.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn entries_are_bound_to_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = keyring(&dir);
        ring.add("alice", ABANDON, "pw").unwrap();
        // Copy alice's entry under another name by editing the file.
        let mut file: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ring.path()).unwrap()).unwrap();
        let entry = file["keys"]["alice"].clone();
        file["keys"]["mallory"] = entry;
        fs::write(ring.path(), serde_json::to_vec(&file).unwrap()).unwrap();
        let ring = Keyring::open(ring.path()).unwrap();
        assert!(matches!(
            ring.get("mallory", "pw"),
            Err(ChainError::WrongPassword { .. })
        ));
        ring.get("alice", "pw").unwrap();
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        fs::write(&path, "not json").unwrap();
        let err = Keyring::open(&path).err().unwrap();
        assert!(matches!(err, ChainError::Keyring { .. }));
        assert!(err.to_string().contains("not a keyring file"), "{err}");
    }

    #[test]
    fn default_cost_is_the_documented_one() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(dir.path().join("k.json")).unwrap();
        assert_eq!(ring.scrypt_log_n, 15);
    }
}
