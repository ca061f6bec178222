//! The lease API's view of the chain over `kumo_chain`: this provider's leases of a deployment
//! from the market's `OwnerLeases` (the tenant's leases, which the market orders by dseq),
//! deployments from its `Deployment` query, and tenants' public keys from the auth module's
//! account endpoint (`/cosmos/auth/v1beta1/accounts/{address}`).
//!
//! Leases and deployments are read fresh (no cache): a lease created a moment ago is served at
//! once, and a closed one stops being served at once (the market deletes closed leases, so
//! neither `OwnerLeases` nor `ProviderLeases` lists them). Public keys are cached once found: an
//! account's key never changes after its first transaction, and every request checks a token
//! against one. A lease lookup reads only the pages that hold that deployment's leases
//! (usually one query), however many leases the provider or the tenant has elsewhere.

use cosmwasm_std::Addr;
use kumo::market::{self, DeploymentResponse, Lease, LeasesResponse};
use kumo::{DeploymentId, LeaseId};
use kumo_chain::{AccountKey, ChainError, Client, KumoContracts};

use super::source::{LeaseSource, OnChainDeployment, SourceError};
use crate::backend::BoxFuture;

/// Leases asked for per query page (the market's maximum today; it may answer fewer).
const PAGE: u32 = 30;
/// At most this many pages per lookup (30,000 leases of one deployment), in case the chain
/// keeps answering.
const MAX_PAGES: usize = 1000;
/// Public keys kept; past it the cache starts again (bounded memory).
const MAX_KEYS: usize = 10_000;

/// [`LeaseSource`] over a node's REST API.
#[derive(Clone, Debug)]
pub struct ChainLeaseSource {
    client: Client,
    contracts: KumoContracts,
    provider: String,
    /// Tenants' public keys found so far, by address (shared by clones).
    keys: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
}

impl ChainLeaseSource {
    /// The leases of `provider` (its account address) in the market of `contracts`.
    pub fn new(
        client: Client,
        contracts: KumoContracts,
        provider: impl Into<String>,
    ) -> ChainLeaseSource {
        ChainLeaseSource {
            client,
            contracts,
            provider: provider.into(),
            keys: Default::default(),
        }
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// This provider's leases of deployment `owner/dseq`, from the market's `OwnerLeases`: the
    /// market keeps a tenant's leases ordered by (dseq, gseq, oseq, provider), so the listing
    /// starts just before `dseq` and stops at the first lease of a later deployment. The cost
    /// is the deployment's own leases (one page for any deployment of up to [`PAGE`] leases),
    /// not the provider's or the tenant's.
    async fn deployment_leases(&self, owner: &str, dseq: u64) -> Result<Vec<Lease>, SourceError> {
        // The market would refuse anything else as an address; such an owner has no leases.
        if !is_bech32ish(owner) {
            return Ok(Vec::new());
        }
        let owner_addr = Addr::unchecked(owner);
        let mut start_after = before_deployment(&owner_addr, dseq);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: LeasesResponse = self
                .contracts
                .query_market(
                    &self.client,
                    &market::QueryMsg::OwnerLeases {
                        owner: owner.to_string(),
                        start_after: start_after.clone(),
                        limit: Some(PAGE),
                    },
                )
                .await
                .map_err(chain_error)?;
            // Only an empty page (or the same page again) or a later deployment ends the
            // listing: the market may cap pages below `PAGE`.
            let Some(last) = page.leases.last().map(|l| l.id.clone()) else {
                break;
            };
            if start_after.as_ref() == Some(&last) {
                break;
            }
            let past = last.dseq > dseq;
            out.extend(
                page.leases
                    .into_iter()
                    .filter(|l| l.id.dseq == dseq && l.id.provider.as_str() == self.provider),
            );
            if past {
                break;
            }
            start_after = Some(last);
        }
        Ok(out)
    }

    async fn fetch_deployment(
        &self,
        id: &DeploymentId,
    ) -> Result<Option<OnChainDeployment>, SourceError> {
        let res: Result<DeploymentResponse, ChainError> = self
            .contracts
            .query_market(
                &self.client,
                &market::QueryMsg::Deployment { id: id.clone() },
            )
            .await;
        match res {
            Ok(r) => Ok(Some(r.into())),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(chain_error(e)),
        }
    }

    async fn fetch_public_key(&self, address: &str) -> Result<Option<Vec<u8>>, SourceError> {
        // The address goes into the path: only bech32 characters.
        if !is_bech32ish(address) {
            return Ok(None);
        }
        if let Some(key) = self.with_keys(|keys| keys.get(address).cloned()) {
            return Ok(Some(key));
        }
        let account = self.client.account(address).await.map_err(chain_error)?;
        let key = secp256k1_key(account.and_then(|a| a.public_key))?;
        // Only a key found: an account without one may sign (and get one) later.
        if let Some(k) = &key {
            self.with_keys(|keys| {
                if keys.len() >= MAX_KEYS {
                    keys.clear();
                }
                keys.insert(address.to_string(), k.clone());
            });
        }
        Ok(key)
    }

    fn with_keys<T>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<String, Vec<u8>>) -> T,
    ) -> T {
        // A panic elsewhere while holding the lock leaves a usable map: keep going.
        f(&mut self.keys.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The key that signs a tenant's tokens: `None` while the account has none (it never signed).
/// Other key types (multisig, ed25519) cannot sign tokens: an error.
pub fn secp256k1_key(key: Option<AccountKey>) -> Result<Option<Vec<u8>>, SourceError> {
    match key {
        None => Ok(None),
        Some(AccountKey::Secp256k1(bytes)) if bytes.len() == 33 => Ok(Some(bytes)),
        Some(AccountKey::Secp256k1(bytes)) => Err(SourceError::new(format!(
            "the account's key has {} bytes, not 33 (compressed secp256k1)",
            bytes.len()
        ))),
        Some(AccountKey::Other { type_url }) => Err(SourceError::new(format!(
            "the account's key is {type_url:?}, not a secp256k1 key; tokens must be signed by a secp256k1 account"
        ))),
    }
}

/// The `OwnerLeases` cursor just before deployment `owner/dseq`'s first lease: `None` (the
/// start) for dseq 0, else past the last possible lease of `dseq - 1`. The market compares
/// cursors as its keys, field by field and the provider by its bytes; `~` (0x7e) sorts after
/// every character of a bech32 address (lowercase letters and digits, at most 0x7a, and
/// addresses are stored lowercase), so no lease of `dseq - 1` sorts after this cursor, even one
/// at gseq and oseq `u32::MAX`, and every lease of `dseq` sorts after it.
fn before_deployment(owner: &Addr, dseq: u64) -> Option<LeaseId> {
    let prev = dseq.checked_sub(1)?;
    Some(LeaseId {
        owner: owner.clone(),
        dseq: prev,
        gseq: u32::MAX,
        oseq: u32::MAX,
        provider: Addr::unchecked("~"),
    })
}

/// Only bech32 characters: what an account address can be (it goes into queries and paths).
fn is_bech32ish(address: &str) -> bool {
    !address.is_empty()
        && address
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The market's "not found" for an unknown deployment.
fn is_missing(e: &ChainError) -> bool {
    e.is_not_found()
        || matches!(e, ChainError::Api { message, .. } if message.contains("not found"))
}

fn chain_error(e: ChainError) -> SourceError {
    SourceError::new(e.to_string())
}

impl LeaseSource for ChainLeaseSource {
    fn leases<'a>(
        &'a self,
        owner: &'a str,
        dseq: u64,
    ) -> BoxFuture<'a, Result<Vec<Lease>, SourceError>> {
        Box::pin(self.deployment_leases(owner, dseq))
    }

    fn deployment<'a>(
        &'a self,
        id: &'a DeploymentId,
    ) -> BoxFuture<'a, Result<Option<OnChainDeployment>, SourceError>> {
        Box::pin(self.fetch_deployment(id))
    }

    fn public_key<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, SourceError>> {
        Box::pin(self.fetch_public_key(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_sits_between_two_deployments() {
        let owner = Addr::unchecked("kumo1owner");
        assert_eq!(before_deployment(&owner, 0), None);
        let cursor = before_deployment(&owner, 7).unwrap();
        assert_eq!(
            (cursor.dseq, cursor.gseq, cursor.oseq),
            (6, u32::MAX, u32::MAX)
        );
        // After every character an address can hold.
        let bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l1";
        assert!(bech32
            .bytes()
            .all(|b| b < cursor.provider.as_str().as_bytes()[0]));
        assert!(is_bech32ish("kumo1dx58wdv760t0x9vhw7ppnse6jhajpms03xlzl9"));
        assert!(!is_bech32ish("Kumo1x") && !is_bech32ish("") && !is_bech32ish("a/b"));
    }

    #[test]
    fn only_compressed_secp256k1_keys_sign_tokens() {
        assert_eq!(secp256k1_key(None).unwrap(), None);
        let key = vec![2u8; 33];
        assert_eq!(
            secp256k1_key(Some(AccountKey::Secp256k1(key.clone()))).unwrap(),
            Some(key)
        );
        assert!(secp256k1_key(Some(AccountKey::Secp256k1(vec![4u8; 65])))
            .unwrap_err()
            .to_string()
            .contains("not 33"));
        let ed = AccountKey::Other {
            type_url: "/cosmos.crypto.ed25519.PubKey".into(),
        };
        assert!(secp256k1_key(Some(ed))
            .unwrap_err()
            .to_string()
            .contains("secp256k1"));
    }
}
