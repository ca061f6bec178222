//! Attributes and placement requirements, as Akash's `akash.base.attributes.v1`.

use cosmwasm_schema::cw_serde;

/// Longest attribute key Akash accepts: one leading letter, up to 126 body characters and an
/// optional trailing wildcard character.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 128;

/// A key/value pair describing a provider, a resource or a requirement.
#[cw_serde]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

impl Attribute {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Auditors whose signatures a provider's attributes must carry (Akash `SignedBy`).
#[cw_serde]
#[derive(Default)]
pub struct SignedBy {
    /// Every one of these auditors must have signed the required attributes.
    pub all_of: Vec<String>,
    /// At least one of these auditors must have signed the required attributes.
    pub any_of: Vec<String>,
}

impl SignedBy {
    pub fn is_empty(&self) -> bool {
        self.all_of.is_empty() && self.any_of.is_empty()
    }
}

/// What a provider must offer to bid on a group (Akash `PlacementRequirements`).
#[cw_serde]
#[derive(Default)]
pub struct PlacementRequirements {
    pub signed_by: SignedBy,
    /// Sorted by key.
    pub attributes: Vec<Attribute>,
}

/// Why an attribute list is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("attribute key {key:?} is invalid: it must start with a letter, be 2 to 128 characters of letters, digits, '_', '/', '.' or '-', and may end with '*'")]
    InvalidKey { key: String },
    #[error("attribute key {key:?} appears more than once")]
    DuplicateKey { key: String },
}

/// Whether `key` matches Akash's attribute key pattern
/// `^([a-zA-Z][\w\/\.\-]{1,126}[\w\*]?)$` (`AttributeNameRegexpStringWildcard`).
///
/// Written by hand rather than with a regex engine so that contracts can call it cheaply.
pub fn is_valid_attribute_key(key: &str) -> bool {
    let body = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/' | b'.' | b'-');
    let word_or_star = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'*');
    let Some((first, rest)) = key.as_bytes().split_first() else {
        return false;
    };
    if !first.is_ascii_alphabetic() {
        return false;
    }
    // Without the optional last character: 1..=126 body characters.
    let plain = (1..=126).contains(&rest.len()) && rest.iter().all(body);
    // With it: 1..=126 body characters, then one word character or '*'.
    let with_last = (2..=127).contains(&rest.len())
        && rest
            .split_last()
            .is_some_and(|(last, middle)| word_or_star(last) && middle.iter().all(body));
    plain || with_last
}

/// Validates a resource attribute list as Akash's `Attributes.Validate`: every key matches the
/// pattern and no key repeats.
pub fn validate_attributes(attributes: &[Attribute]) -> Result<(), AttributeError> {
    for (i, attr) in attributes.iter().enumerate() {
        if !is_valid_attribute_key(&attr.key) {
            return Err(AttributeError::InvalidKey {
                key: attr.key.clone(),
            });
        }
        if attributes[..i].iter().any(|a| a.key == attr.key) {
            return Err(AttributeError::DuplicateKey {
                key: attr.key.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_keys_follow_akash_pattern() {
        for ok in [
            "region",
            "ab",
            "vendor/nvidia/model/*",
            "vendor/nvidia/model/a100/ram/80Gi",
            "capabilities/storage/1/class",
            "a.b-c_d",
            "tee/type",
        ] {
            assert!(is_valid_attribute_key(ok), "{ok}");
        }
        for bad in ["", "a", "1region", "-x", "re gion", "a*b", "*", "ré", "a**"] {
            assert!(!is_valid_attribute_key(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_key_length_limits() {
        let max = format!("a{}", "b".repeat(127));
        assert!(is_valid_attribute_key(&max));
        let max_wild = format!("a{}*", "b".repeat(126));
        assert!(is_valid_attribute_key(&max_wild));
        let too_long = format!("a{}", "b".repeat(128));
        assert!(!is_valid_attribute_key(&too_long));
        let dash_last_at_max = format!("a{}-", "b".repeat(126));
        assert!(!is_valid_attribute_key(&dash_last_at_max));
        let dash_last_short = format!("a{}-", "b".repeat(10));
        assert!(is_valid_attribute_key(&dash_last_short));
    }

    #[test]
    fn duplicate_attribute_keys_are_rejected() {
        let attrs = vec![Attribute::new("a1", "x"), Attribute::new("a1", "y")];
        assert_eq!(
            validate_attributes(&attrs),
            Err(AttributeError::DuplicateKey { key: "a1".into() })
        );
    }
}
