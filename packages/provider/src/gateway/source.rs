//! What the lease API needs to know from the chain, behind a trait: the agent implements it over
//! `kumo_chain` market queries (and its own caches); tests use [`MemoryLeaseSource`].

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use cosmwasm_std::{Decimal256, HexBinary, Timestamp};
use kumo::market::{DeploymentResponse, Lease, LeaseState};
use kumo::{DeploymentId, GroupSpec, LeaseId};

use crate::backend::BoxFuture;

/// A deployment as the market stores it, reduced to what the manifest check needs.
#[derive(Clone, Debug, PartialEq)]
pub struct OnChainDeployment {
    pub id: DeploymentId,
    /// The manifest version the tenant committed to: SHA-256 of the sorted manifest JSON.
    pub version: HexBinary,
    /// Every group of the deployment (the manifest covers them all, as its version does).
    pub groups: Vec<OnChainGroup>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OnChainGroup {
    pub gseq: u32,
    pub spec: GroupSpec,
}

impl From<DeploymentResponse> for OnChainDeployment {
    /// From the market's `Deployment` query.
    fn from(r: DeploymentResponse) -> Self {
        OnChainDeployment {
            id: r.deployment.id,
            version: r.deployment.version,
            groups: r
                .groups
                .into_iter()
                .map(|g| OnChainGroup {
                    gseq: g.id.gseq,
                    spec: g.spec,
                })
                .collect(),
        }
    }
}

/// The chain could not answer (unreachable node, timeout, an answer that did not parse).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("chain query failed: {reason}")]
pub struct SourceError {
    pub reason: String,
}

impl SourceError {
    pub fn new(reason: impl Into<String>) -> SourceError {
        SourceError {
            reason: reason.into(),
        }
    }
}

/// The chain as the lease API sees it. Object-safe (boxed futures), like
/// [`crate::backend::Backend`].
pub trait LeaseSource: Send + Sync {
    /// This provider's leases of deployment `owner/dseq`; closed ones may be left out (the
    /// market deletes them). The owner is not in Akash's URLs: the API passes the token's
    /// issuer, so one request costs what that deployment's leases cost, whatever else the
    /// provider runs, and another owner's leases never reach the API (a tenant learns nothing
    /// about deployments it does not own: they are "not found"). The agent answers it from
    /// the market's `OwnerLeases`.
    fn leases<'a>(
        &'a self,
        owner: &'a str,
        dseq: u64,
    ) -> BoxFuture<'a, Result<Vec<Lease>, SourceError>>;

    /// The deployment with its manifest version and group specs (the market's `Deployment`
    /// query); `None` if the market has no such deployment.
    fn deployment<'a>(
        &'a self,
        id: &'a DeploymentId,
    ) -> BoxFuture<'a, Result<Option<OnChainDeployment>, SourceError>>;

    /// The compressed secp256k1 public key of an account, for tokens that do not embed theirs
    /// (the auth module's `PubKeyLookup`, asynchronously). `None` when the account never
    /// signed a transaction. The default knows no keys.
    fn public_key<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, SourceError>> {
        let _ = address;
        Box::pin(async { Ok(None) })
    }
}

/// Whether a lease still runs workloads: active, or reclaiming until its deadline.
pub fn is_live(state: LeaseState) -> bool {
    matches!(state, LeaseState::Active | LeaseState::Reclaiming)
}

/// An in-memory chain: leases, deployments and account keys set by hand (tests, demos).
#[derive(Debug, Default)]
pub struct MemoryLeaseSource {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    leases: BTreeMap<LeaseId, Lease>,
    deployments: BTreeMap<DeploymentId, OnChainDeployment>,
    keys: BTreeMap<String, Vec<u8>>,
}

impl MemoryLeaseSource {
    pub fn new() -> MemoryLeaseSource {
        MemoryLeaseSource::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryInner> {
        // A panic while holding this lock cannot leave the maps half-updated.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) an active lease at price zero.
    pub fn add_lease(&self, id: LeaseId) {
        let lease = Lease {
            id: id.clone(),
            state: LeaseState::Active,
            price: Decimal256::zero(),
            created_at: Timestamp::from_seconds(0),
            closed_at: None,
            close_reason: None,
            reclamation_window: None,
            reclaim_deadline: None,
        };
        self.lock().leases.insert(id, lease);
    }

    pub fn insert_lease(&self, lease: Lease) {
        self.lock().leases.insert(lease.id.clone(), lease);
    }

    /// Changes a lease's state; `false` if there is no such lease.
    pub fn set_lease_state(&self, id: &LeaseId, state: LeaseState) -> bool {
        match self.lock().leases.get_mut(id) {
            Some(lease) => {
                lease.state = state;
                true
            }
            None => false,
        }
    }

    pub fn insert_deployment(&self, deployment: OnChainDeployment) {
        self.lock()
            .deployments
            .insert(deployment.id.clone(), deployment);
    }

    pub fn insert_public_key(&self, address: impl Into<String>, key: Vec<u8>) {
        self.lock().keys.insert(address.into(), key);
    }
}

impl LeaseSource for MemoryLeaseSource {
    fn leases<'a>(
        &'a self,
        owner: &'a str,
        dseq: u64,
    ) -> BoxFuture<'a, Result<Vec<Lease>, SourceError>> {
        let leases = self
            .lock()
            .leases
            .values()
            .filter(|l| l.id.owner.as_str() == owner && l.id.dseq == dseq)
            .cloned()
            .collect();
        Box::pin(async move { Ok(leases) })
    }

    fn deployment<'a>(
        &'a self,
        id: &'a DeploymentId,
    ) -> BoxFuture<'a, Result<Option<OnChainDeployment>, SourceError>> {
        let deployment = self.lock().deployments.get(id).cloned();
        Box::pin(async move { Ok(deployment) })
    }

    fn public_key<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, SourceError>> {
        let key = self.lock().keys.get(address).cloned();
        Box::pin(async move { Ok(key) })
    }
}
