//! secp256k1 account keys from BIP-39 mnemonics, and a keyring that keeps them encrypted on disk.

mod bip39;
mod keyring;

use std::fmt;

use bech32::{Bech32, Hrp};
use cosmrs::bip32::secp256k1::ecdsa::{signature::Signer, Signature, SigningKey};
use cosmrs::bip32::{DerivationPath, XPrv};
use rand_core::{OsRng, RngCore};

pub use keyring::{KeyInfo, Keyring, DEFAULT_SCRYPT_LOG_N};

use crate::ChainError;

/// The Cosmos Hub's coin type (118), which wasmd chains use too.
const HD_PATH_PREFIX: &str = "m/44'/118'/0'/0";

/// An account's secp256k1 signing key.
#[derive(Clone)]
pub struct Key {
    signing_key: SigningKey,
}

impl Key {
    /// The key at m/44'/118'/0'/0/0 of a BIP-39 mnemonic (English, no passphrase), as the Cosmos
    /// SDK's `keys add --recover` derives it.
    pub fn from_mnemonic(phrase: &str) -> Result<Key, ChainError> {
        Key::from_mnemonic_index(phrase, 0)
    }

    /// The key at m/44'/118'/0'/0/{index}.
    pub fn from_mnemonic_index(phrase: &str, index: u32) -> Result<Key, ChainError> {
        let phrase = bip39::normalize(phrase)?;
        let seed = bip39::to_seed(&phrase, "");
        let path = format!("{HD_PATH_PREFIX}/{index}");
        let derivation_error = |reason: String| ChainError::Derivation {
            path: path.clone(),
            reason,
        };
        let parsed: DerivationPath = path
            .parse()
            .map_err(|e| derivation_error(format!("{e}; the index must be below 2^31")))?;
        let xprv =
            XPrv::derive_from_path(seed, &parsed).map_err(|e| derivation_error(e.to_string()))?;
        Ok(Key {
            signing_key: xprv.private_key().clone(),
        })
    }

    /// A new key and its 24-word mnemonic, from the operating system's random number generator.
    pub fn generate() -> (Key, String) {
        loop {
            let mut entropy = [0u8; 32];
            OsRng.fill_bytes(&mut entropy);
            let phrase = bip39::from_entropy(&entropy);
            // Derivation fails only for an invalid child scalar (probability about 2^-127).
            if let Ok(key) = Key::from_mnemonic(&phrase) {
                return (key, phrase);
            }
        }
    }

    pub fn public_key(&self) -> cosmrs::crypto::PublicKey {
        self.signing_key.verifying_key().into()
    }

    /// The SEC1 compressed public key.
    pub fn public_key_bytes(&self) -> [u8; 33] {
        let point = self.signing_key.verifying_key().to_encoded_point(true);
        let mut bytes = [0u8; 33];
        // A compressed point of a valid key is always 33 bytes.
        bytes.copy_from_slice(point.as_bytes());
        bytes
    }

    /// The 20-byte account id every Cosmos chain uses: RIPEMD-160(SHA-256(compressed key)).
    pub fn account_id_bytes(&self) -> [u8; 20] {
        let tm_key: cosmrs::tendermint::PublicKey = self.public_key().into();
        let id = cosmrs::tendermint::account::Id::from(tm_key);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(id.as_bytes());
        bytes
    }

    /// The account address with the chain's bech32 prefix, e.g. `wasm1…`.
    pub fn address(&self, prefix: &str) -> Result<String, ChainError> {
        let invalid = |reason: String| ChainError::InvalidPrefix {
            prefix: prefix.to_string(),
            reason,
        };
        if prefix.is_empty() || prefix.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("it must be non-empty and lowercase".into()));
        }
        let hrp = Hrp::parse(prefix).map_err(|e| invalid(e.to_string()))?;
        bech32::encode::<Bech32>(hrp, &self.account_id_bytes()).map_err(|e| invalid(e.to_string()))
    }

    /// A 64-byte r‖s signature over SHA-256(msg) with s normalized low, as SIGN_MODE_DIRECT
    /// expects for a SignDoc's bytes.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let signature: Signature = self.signing_key.sign(msg);
        // k256 already normalizes s; normalizing again keeps the guarantee explicit.
        signature.normalize_s().unwrap_or(signature).to_vec()
    }

    #[cfg(test)]
    pub(crate) fn signing_key_bytes(&self) -> Vec<u8> {
        self.signing_key.to_bytes().to_vec()
    }
}

impl fmt::Debug for Key {
    // Never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("public_key", &hex::encode(self.public_key_bytes()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use cosmrs::bip32::secp256k1::ecdsa::{signature::Verifier, VerifyingKey};

    use super::*;

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

    #[test]
    fn derivation_vector() {
        let key = Key::from_mnemonic(ABANDON).unwrap();
        assert_eq!(
            key.address("cosmos").unwrap(),
            "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4"
        );
        // The same account on a wasmd chain and through cosmrs's own derivation.
        assert_eq!(
            key.public_key().account_id("wasm").unwrap().to_string(),
            key.address("wasm").unwrap()
        );
        assert_eq!(
            hex::encode(key.public_key_bytes()),
            hex::encode(key.public_key().to_bytes())
        );
    }

    #[test]
    fn index_changes_the_key() {
        let first = Key::from_mnemonic_index(ABANDON, 0).unwrap();
        let second = Key::from_mnemonic_index(ABANDON, 1).unwrap();
        assert_eq!(
            first.public_key_bytes(),
            Key::from_mnemonic(ABANDON).unwrap().public_key_bytes()
        );
        assert_ne!(first.public_key_bytes(), second.public_key_bytes());
        assert!(matches!(
            Key::from_mnemonic_index(ABANDON, 1 << 31),
            Err(ChainError::Derivation { .. })
        ));
    }

    #[test]
    fn bad_mnemonic_and_prefix_are_errors() {
        assert!(matches!(
            Key::from_mnemonic("not a mnemonic"),
            Err(ChainError::InvalidMnemonic(_))
        ));
        let key = Key::from_mnemonic(ABANDON).unwrap();
        for prefix in ["", "Cosmos", "has space"] {
            assert!(
                matches!(key.address(prefix), Err(ChainError::InvalidPrefix { .. })),
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn generated_mnemonic_round_trips() {
        let (key, phrase) = Key::generate();
        assert_eq!(phrase.split(' ').count(), 24);
        assert_eq!(
            Key::from_mnemonic(&phrase).unwrap().public_key_bytes(),
            key.public_key_bytes()
        );
    }

    #[test]
    fn signature_verifies_and_is_low_s() {
        let key = Key::from_mnemonic(ABANDON).unwrap();
        let msg = b"sign doc bytes";
        let sig_bytes = key.sign(msg);
        assert_eq!(sig_bytes.len(), 64);
        let signature = Signature::from_slice(&sig_bytes).unwrap();
        assert!(signature.normalize_s().is_none(), "s must be low");
        let verifying = VerifyingKey::from_sec1_bytes(&key.public_key_bytes()).unwrap();
        verifying.verify(msg, &signature).unwrap();
        assert!(verifying.verify(b"other bytes", &signature).is_err());
        // Deterministic (RFC 6979), like the SDK's signer.
        assert_eq!(key.sign(msg), sig_bytes);
    }

    #[test]
    fn debug_does_not_leak_the_private_key() {
        let key = Key::from_mnemonic(ABANDON).unwrap();
        let secret = hex::encode(key.signing_key.to_bytes());
        assert!(!format!("{key:?}").contains(&secret));
    }
}
