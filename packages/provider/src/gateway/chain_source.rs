//! The lease API's view of the chain over `kumo_chain`: this provider's leases from the market's
//! `ProviderLeases`, deployments from its `Deployment` query, and tenants' public keys from the
//! auth module's account endpoint (`/cosmos/auth/v1beta1/accounts/{address}`).
//!
//! Leases and deployments are read fresh (no cache): a lease created a moment ago is served at
//! once, and a closed one stops being served at once. Public keys are cached once found: an
//! account's key never changes after its first transaction, and every request checks a token
//! against one. `leases` pages through the provider's open leases
//! (the market keeps no index by dseq); a provider with thousands of leases would want a cache
//! kept by the agent instead.

use kumo::market::{self, DeploymentResponse, Lease, LeasesResponse};
use kumo::{DeploymentId, LeaseId};
use kumo_chain::{AccountKey, ChainError, Client, KumoContracts};

use super::source::{LeaseSource, OnChainDeployment, SourceError};
use crate::backend::BoxFuture;

/// Leases asked for per query page (the market's maximum today; it may answer fewer).
const PAGE: u32 = 30;
/// At most this many pages per lookup (30,000 leases), in case the chain keeps answering.
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

    async fn provider_leases(&self, dseq: u64) -> Result<Vec<Lease>, SourceError> {
        let mut out = Vec::new();
        let mut start_after: Option<LeaseId> = None;
        for _ in 0..MAX_PAGES {
            let page: LeasesResponse = self
                .contracts
                .query_market(
                    &self.client,
                    &market::QueryMsg::ProviderLeases {
                        provider: self.provider.clone(),
                        start_after: start_after.clone(),
                        limit: Some(PAGE),
                    },
                )
                .await
                .map_err(chain_error)?;
            // Only an empty page (or the same page again) ends the listing: the market may cap
            // pages below `PAGE`.
            let Some(last) = page.leases.last().map(|l| l.id.clone()) else {
                break;
            };
            if start_after.as_ref() == Some(&last) {
                break;
            }
            start_after = Some(last);
            out.extend(page.leases.into_iter().filter(|l| l.id.dseq == dseq));
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
        if address.is_empty()
            || !address
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
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

/// The market's "not found" for an unknown deployment.
fn is_missing(e: &ChainError) -> bool {
    e.is_not_found()
        || matches!(e, ChainError::Api { message, .. } if message.contains("not found"))
}

fn chain_error(e: ChainError) -> SourceError {
    SourceError::new(e.to_string())
}

impl LeaseSource for ChainLeaseSource {
    fn leases(&self, dseq: u64) -> BoxFuture<'_, Result<Vec<Lease>, SourceError>> {
        Box::pin(self.provider_leases(dseq))
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
