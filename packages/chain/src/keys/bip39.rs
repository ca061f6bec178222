//! BIP-39 mnemonics (English), 12 to 24 words, through the `bip39` crate.
//!
//! `bip32`'s own `Mnemonic` is not compiled in with the features cosmrs enables, and it only
//! takes 24 words, while most wallets hand out 12.

use bip39::{Language, Mnemonic};

use crate::ChainError;

pub(crate) const SEED_LEN: usize = 64;

/// Checks the words and checksum and returns the canonical phrase (lowercase, single spaces).
pub(crate) fn normalize(phrase: &str) -> Result<String, ChainError> {
    let words: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
    if !matches!(words.len(), 12 | 15 | 18 | 21 | 24) {
        return Err(ChainError::InvalidMnemonic(format!(
            "it has {} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24",
            words.len()
        )));
    }
    let joined = words.join(" ");
    match Mnemonic::parse_in_normalized(Language::English, &joined) {
        Ok(m) => Ok(m.to_string()),
        // Name the position only: the word is part of a secret and errors get logged.
        Err(bip39::Error::UnknownWord(i)) => Err(ChainError::InvalidMnemonic(format!(
            "word {} is not in the BIP-39 English word list; check its spelling",
            i + 1
        ))),
        Err(bip39::Error::InvalidChecksum) => Err(ChainError::InvalidMnemonic(
            "the checksum does not match; a word is wrong or out of order".into(),
        )),
        Err(e) => Err(ChainError::InvalidMnemonic(e.to_string())),
    }
}

/// The phrase for the given entropy (16 to 32 bytes, a multiple of 4).
pub(crate) fn from_entropy(entropy: &[u8]) -> String {
    Mnemonic::from_entropy_in(Language::English, entropy)
        .map(|m| m.to_string())
        .unwrap_or_default()
}

/// The 64-byte seed (PBKDF2-HMAC-SHA512, 2048 rounds).
pub(crate) fn to_seed(phrase: &str, passphrase: &str) -> [u8; SEED_LEN] {
    match Mnemonic::parse_in_normalized(Language::English, phrase) {
        Ok(m) => m.to_seed_normalized(passphrase),
        Err(_) => [0; SEED_LEN],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the BIP-39 reference (trezor/python-mnemonic vectors.json), passphrase "TREZOR".
    #[test]
    fn trezor_vectors() {
        let cases = [
            (
                "00000000000000000000000000000000",
                "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
                "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
            ),
            (
                "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
                "legal winner thank year wave sausage worth useful legal winner thank yellow",
                "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
            ),
            (
                "8080808080808080808080808080808080808080808080808080808080808080",
                "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
                "c0c519bd0e91a2ed54357d9d1ebef6f5af218a153624cf4f2da911a0ed8f7a09e2ef61af0aca007096df430022f7a2b6fb91661a9589097069720d015e4e982f",
            ),
        ];
        for (entropy, phrase, seed) in cases {
            assert_eq!(from_entropy(&hex::decode(entropy).unwrap()), phrase);
            assert_eq!(normalize(phrase).unwrap(), phrase);
            assert_eq!(hex::encode(to_seed(phrase, "TREZOR")), seed);
        }
    }

    #[test]
    fn normalizes_case_and_spacing() {
        let messy = "  Abandon abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon ABOUT\n";
        assert_eq!(
            normalize(messy).unwrap(),
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
        );
    }

    #[test]
    fn rejects_bad_phrases() {
        let err = |p: &str| normalize(p).unwrap_err().to_string();
        assert!(err("abandon abandon").contains("has 2 words"));
        assert!(err(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon"
        )
        .contains("checksum"));
        let typo = err(
            "abandon abandon abandon abandn abandon abandon abandon abandon abandon abandon abandon about",
        );
        assert!(typo.contains("word 4 is not"), "{typo}");
        assert!(
            !typo.contains("abandn"),
            "errors must not echo the phrase: {typo}"
        );
    }
}
