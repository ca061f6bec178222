//! The agent's chain side: watches open orders, decides with the [`BidEngine`] and bids, and
//! follows what it won: leases are committed in the inventory, deployed from stored manifests,
//! closed when their manifest never comes, withdrawn on a schedule, torn down when they close;
//! heartbeats go to the staking contract. Every transaction goes through the journal, so that a
//! restart never loses or repeats one: each is signed with a timeout height
//! ([`AgentConfig::tx_timeout_blocks`] above the latest block) recorded with its intent before
//! the broadcast, and an intent whose outcome is unknown (a kill, a lost connection) stays in
//! doubt, sent no second time, until the chain shows its effect or passes that height.
//!
//! One [`Agent::tick`] is one pass of everything; the caller runs it on a timer (every few
//! seconds: bids go out one tick after an order appears, and a stored manifest whose deploy did
//! not happen is deployed at the second tick that sees it, the first leaving the lease API time
//! to finish its own deploy). A failed tick changes nothing that the next one cannot redo: log
//! it and tick again. Timeouts and schedules are measured in chain time (the latest block's
//! time), so they hold across restarts and agree with the contracts. [`Agent::start`] reconciles first: pending journal intents are
//! resolved against the chain, open bids and live leases hold their inventory again, leases the
//! backend runs are adopted (not redeployed) when they are still live on chain and torn down
//! otherwise, and live leases with a stored manifest that run nowhere, or not all of it (a
//! container created and never started), are deployed (deploys keep what runs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cosmwasm_std::{Addr, Coin};
use kumo::escrow::{self, AccountId, AccountResponse};
use kumo::market::{
    self, Bid as ChainBid, BidsResponse, DeploymentResponse, GroupResponse, Lease,
    LeaseCloseReason, LeaseState, LeasesResponse, OrderResponse, OrdersResponse,
};
use kumo::registry::{self, ProviderResponse};
use kumo::staking::{self, ProviderBondResponse};
use kumo::{BidId, DeploymentId, LeaseId, OrderId};
use kumo_chain::{ChainError, Client, Key, KumoContracts, TxResponse};

use crate::backend::{Backend, BackendError, DeployedLease, LeaseWorkloads};
use crate::bidengine::{BidEngine, BidOutcome, OrderView, ProviderView};
use crate::gateway::{is_live, ManifestStore, StoreError};
use crate::inventory::{Inventory, ReservationState};
use crate::journal::{Entry, Intent, IntentKind, IntentState, Journal, JournalError};

/// [`AgentConfig::page_limit`]'s default: orders, bids and leases asked for per query page
/// (the market's maximum today).
pub const DEFAULT_PAGE_LIMIT: u32 = 30;
/// How often one listing may start over after a page failed mid-listing. The market's cursors
/// are keys (they resume after an item deleted since), so this only guards against a market
/// that still looks its cursor up (an older deployment of it).
const LIST_RESTARTS: usize = 3;
/// The journal key of heartbeats (one at a time).
const HEARTBEAT_KEY: &str = "heartbeat";
/// [`AgentConfig::tx_timeout_blocks`]'s default.
pub const DEFAULT_TX_TIMEOUT_BLOCKS: u64 = 20;

pub struct AgentConfig {
    pub contracts: KumoContracts,
    /// Sent with every bid; the market's minimum for the denomination at least.
    pub bid_deposit: Coin,
    /// Offered on every bid (AEP-82); `None` bids without one.
    pub reclamation_window: Option<u64>,
    /// Own open bids older than this are closed (default 5 min).
    pub bid_timeout: Duration,
    /// A won lease whose manifest has not come this long after the lease was created is closed
    /// with reason 10003 (default 5 min).
    pub manifest_timeout: Duration,
    /// Every active lease is withdrawn this often (default 1 h), and sooner when its
    /// deployment's escrow would run out before then.
    pub withdraw_period: Duration,
    /// `None`: the staking contract's attendance period, read on start.
    pub heartbeat_period: Option<Duration>,
    /// Every transaction is signed with a timeout height this many blocks above the latest
    /// block (default 20), recorded in its journal intent before it is broadcast: a pending
    /// intent whose effect is not on chain is in doubt (nothing is sent again for it) until
    /// the chain is past that height, and certainly void after it.
    pub tx_timeout_blocks: u64,
    /// The `limit` of every listing query (default [`DEFAULT_PAGE_LIMIT`]). The market answers
    /// at most its own maximum whatever is asked, so a page may be shorter than this with more
    /// to come: listings go on until an empty page, and any value lists everything.
    pub page_limit: u32,
}

impl AgentConfig {
    /// The defaults: bid and manifest timeouts 5 min, withdrawals hourly, heartbeats at the
    /// staking contract's attendance period, no reclamation window, transactions valid for 20
    /// blocks.
    pub fn new(contracts: KumoContracts, bid_deposit: Coin) -> AgentConfig {
        AgentConfig {
            contracts,
            bid_deposit,
            reclamation_window: None,
            bid_timeout: Duration::from_secs(300),
            manifest_timeout: Duration::from_secs(300),
            withdraw_period: Duration::from_secs(3600),
            heartbeat_period: None,
            tx_timeout_blocks: DEFAULT_TX_TIMEOUT_BLOCKS,
            page_limit: DEFAULT_PAGE_LIMIT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{address} is not a registered provider: register it first (kumo provider register)")]
    NotRegistered { address: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the node reported a block time that is not RFC 3339: {time:?}")]
    BlockTime { time: String },
}

/// What one tick did. The first tick's report also carries what [`Agent::start`] did
/// (leases deployed from stored manifests, leases torn down).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub orders_seen: usize,
    pub bids_placed: Vec<BidId>,
    /// Orders not bid on, with the policy's reason (also logged and counted by the engine).
    pub declined: Vec<(OrderId, String)>,
    /// Bids the chain refused (the order closed meanwhile, ...), with the reason.
    pub refused: Vec<(OrderId, String)>,
    /// Leases the agent deployed from a stored manifest (after a restart, or when the lease
    /// API stored a manifest and its deploy did not happen).
    pub leases_deployed: Vec<LeaseId>,
    /// Leases the agent closed, with the reason (`ManifestTimeout (10003)`).
    pub leases_closed: Vec<(LeaseId, String)>,
    /// Leases removed from the backend because they are no longer live on chain.
    pub torn_down: Vec<LeaseId>,
    /// Own open bids closed because they timed out.
    pub bids_closed: Vec<BidId>,
    /// `WithdrawLease` transactions that succeeded.
    pub withdrawals: usize,
    /// A heartbeat was sent in this tick.
    pub heartbeat: bool,
    /// Live (active or reclaiming) leases of this provider after the tick.
    pub active_leases: usize,
}

pub struct Agent {
    client: Client,
    key: Key,
    address: String,
    config: AgentConfig,
    engine: Arc<BidEngine>,
    inventory: Arc<Mutex<Inventory>>,
    journal: Journal,
    backend: Arc<dyn Backend>,
    manifests: Arc<dyn ManifestStore>,
    /// Orders already decided (bid on or declined) in this run.
    decided: BTreeSet<String>,
    /// Seconds between heartbeats; `None` without a staking contract.
    heartbeat_period: Option<u64>,
    /// Chain time (s) of each live lease's last withdrawal, or of its creation.
    withdrawn_at: BTreeMap<LeaseId, u64>,
    /// Per deployment: when its escrow account was read (chain time) and when it runs dry.
    funded_until: BTreeMap<DeploymentId, (u64, Option<u64>)>,
    /// Live leases that had a stored manifest but ran nowhere at the previous tick: deployed
    /// if still so at this one (one tick's grace for a deploy the lease API is running).
    awaiting_deploy: BTreeSet<LeaseId>,
    /// Journal keys of pending intents in doubt (their transaction may still land), with
    /// their timeout height: nothing is sent for them until they resolve.
    in_doubt: BTreeMap<String, u64>,
    /// What start did, reported with the first tick.
    carry: TickReport,
}

/// A contract call, for [`Agent::transact`].
enum Call {
    Market(market::ExecuteMsg, Vec<Coin>),
    Staking(staking::ExecuteMsg),
}

/// A bid the engine decided on, not yet sent.
struct PendingBid {
    order: OrderId,
    kind: IntentKind,
    call: Call,
}

/// The outcome of a journaled transaction whose result is known.
#[derive(Clone)]
enum Sent {
    Done,
    /// The chain refused it (nothing happened); the intent is gone from the journal.
    Refused(String),
    /// Not included, and never will be: transactions signed elsewhere with the same key kept
    /// taking its sequence number, even after a retry, or the chain passed the transaction's
    /// timeout height before including it. The next tick tries again.
    Busy(String),
    /// Not sent: an earlier transaction of the same intent may still land (see
    /// [`Agent::resolve_in_flight`]).
    InDoubt,
}

impl Agent {
    /// Opens the agent: checks the provider is registered, reads the heartbeat period, resolves
    /// the journal's pending intents against the chain, re-reserves the inventory of open bids
    /// and live leases, adopts the leases the backend runs that are live on chain, tears down
    /// the others, and deploys live leases that have a stored manifest but run nowhere.
    #[allow(clippy::too_many_arguments)] // The agreed constructor: one argument per part.
    pub async fn start(
        client: Client,
        key: Key,
        config: AgentConfig,
        engine: BidEngine,
        inventory: Inventory,
        journal: Journal,
        backend: Arc<dyn Backend>,
        manifests: Arc<dyn ManifestStore>,
    ) -> Result<Agent, AgentError> {
        let address = client.address(&key)?;
        let mut agent = Agent {
            client,
            key,
            address,
            config,
            engine: Arc::new(engine),
            inventory: Arc::new(Mutex::new(inventory)),
            journal,
            backend,
            manifests,
            decided: BTreeSet::new(),
            heartbeat_period: None,
            withdrawn_at: BTreeMap::new(),
            funded_until: BTreeMap::new(),
            awaiting_deploy: BTreeSet::new(),
            in_doubt: BTreeMap::new(),
            carry: TickReport::default(),
        };
        agent.provider_view().await?;
        agent.heartbeat_period = agent.read_heartbeat_period().await?;
        agent.reconcile().await?;
        Ok(agent)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn inventory(&self) -> Arc<Mutex<Inventory>> {
        self.inventory.clone()
    }

    pub fn engine(&self) -> Arc<BidEngine> {
        self.engine.clone()
    }

    /// Seconds between heartbeats; `None` when the suite has no staking contract.
    pub fn heartbeat_period(&self) -> Option<u64> {
        self.heartbeat_period
    }

    fn me(&self) -> Addr {
        Addr::unchecked(&self.address)
    }

    async fn provider_view(&self) -> Result<ProviderView, AgentError> {
        let res: Result<ProviderResponse, ChainError> = self
            .config
            .contracts
            .query_registry(
                &self.client,
                &registry::QueryMsg::Provider {
                    address: self.address.clone(),
                },
            )
            .await;
        match res {
            Ok(r) => Ok(ProviderView::new(&self.address, r.provider.attributes)),
            // The registry answers "provider ... not found" for an unknown address.
            Err(ChainError::Api { message, .. }) if message.contains("not found") => {
                Err(AgentError::NotRegistered {
                    address: self.address.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn read_heartbeat_period(&self) -> Result<Option<u64>, AgentError> {
        if self.config.contracts.staking.is_empty() {
            return Ok(None);
        }
        if let Some(p) = self.config.heartbeat_period {
            return Ok(Some(p.as_secs().max(1)));
        }
        let config: staking::ConfigResponse = self
            .config
            .contracts
            .query_staking(&self.client, &staking::QueryMsg::Config {})
            .await?;
        Ok(Some(config.params.attendance_period.max(1)))
    }

    /// The latest block's time, in seconds: the clock of every timeout and schedule.
    async fn chain_now(&self) -> Result<u64, AgentError> {
        let block = self.client.latest_block().await?;
        block
            .unix_seconds()
            .ok_or(AgentError::BlockTime { time: block.time })
    }

    /// The chain is the truth. Pending intents with a timeout height are resolved by
    /// [`Agent::resolve_in_flight`]: done when their effect is on chain, in doubt (nothing is
    /// sent for them again, a bid's order stays decided and its resources held) while the
    /// chain has not passed their timeout height, void after it. Pending intents of earlier
    /// versions (no timeout height) are resolved as they were: a bid intent whose bid exists is
    /// done, one whose bid is missing is taken as never landed (the order is evaluated again);
    /// pending closes and heartbeats are dropped (the tick redoes them only if chain state
    /// still asks for them); a pending withdrawal counts as done at its time (withdrawals are
    /// cumulative: the next one pays whatever it missed).
    async fn reconcile(&mut self) -> Result<(), AgentError> {
        // Before any chain state: see `resolve_in_flight`.
        let height = self.client.latest_block().await?.height;
        let bids = self.provider_bids().await?;
        for bid in &bids {
            let order = bid.id.order();
            let response: OrderResponse = self
                .config
                .contracts
                .query_market(&self.client, &market::QueryMsg::Order { id: order.clone() })
                .await?;
            // Held again as it was when the bid was placed (a restart loses nothing).
            let _ = crate::bidengine::lock(&self.inventory)
                .reserve(&order, &response.group.spec.resources);
            self.decided.insert(order.to_string());
        }
        let open_bids: BTreeSet<String> = bids.iter().map(|b| b.id.to_string()).collect();
        let leases = self.provider_leases().await?;
        let live: BTreeMap<LeaseId, Lease> = leases
            .into_iter()
            .filter(|l| is_live(l.state))
            .map(|l| (l.id.clone(), l))
            .collect();
        let in_flight = self.in_flight()?;
        self.resolve_in_flight(in_flight, height, &open_bids, &live, true)
            .await?;

        for intent in self.journal.all()? {
            if self.in_doubt.contains_key(&intent.key) {
                continue;
            }
            let done = Intent {
                state: IntentState::Done,
                ..intent.clone()
            };
            let pending = intent.state == IntentState::Pending;
            match &intent.kind {
                IntentKind::CreateBid { .. } if pending => {
                    let order = intent.key.strip_prefix("bid/").unwrap_or_default();
                    if self.decided.contains(order) {
                        self.journal.record(&done)?;
                    } else {
                        self.journal.remove(&intent.key)?;
                    }
                }
                IntentKind::CloseBid {} => {
                    let bid = intent.key.strip_prefix("close-bid/").unwrap_or_default();
                    if open_bids.contains(bid) {
                        // Never landed: the tick closes it again (it is still too old).
                        self.journal.remove(&intent.key)?;
                        continue;
                    }
                    if pending {
                        self.journal.record(&done)?;
                    }
                    // The order stays decided while it is open: no second bid after a restart.
                    let order = bid.rsplit_once('/').map(|(o, _)| o).unwrap_or_default();
                    if self.order_is_open(order).await? {
                        self.decided.insert(order.to_string());
                    } else {
                        self.journal.remove(&intent.key)?;
                    }
                }
                IntentKind::CloseLease { .. } if pending => {
                    let lease = intent.key.strip_prefix("close-lease/").unwrap_or_default();
                    if live.keys().any(|l| l.to_string() == lease) {
                        self.journal.remove(&intent.key)?;
                    } else {
                        self.journal.record(&done)?;
                    }
                }
                IntentKind::Withdraw {} => {
                    let lease = intent.key.strip_prefix("withdraw/").unwrap_or_default();
                    match live.keys().find(|l| l.to_string() == lease) {
                        Some(id) => {
                            self.withdrawn_at.insert(id.clone(), intent.at);
                            if pending {
                                self.journal.record(&done)?;
                            }
                        }
                        None => self.journal.remove(&intent.key)?,
                    }
                }
                // The tick starts it again if the lease is still active and due.
                IntentKind::StartReclaim { .. } | IntentKind::Heartbeat {} if pending => {
                    self.journal.remove(&intent.key)?
                }
                // History only: nothing reads it once it is done.
                IntentKind::CreateBid { .. }
                | IntentKind::CloseLease { .. }
                | IntentKind::StartReclaim { .. }
                | IntentKind::Heartbeat {} => self.journal.remove(&intent.key)?,
            }
        }

        for lease in live.values() {
            self.hold_lease(lease).await;
        }
        let mut report = TickReport::default();
        if let Some(running) = self.running().await {
            for (id, _) in running.iter().filter(|(id, _)| !live.contains_key(*id)) {
                self.teardown(id, &live, &mut report).await;
            }
            for lease in live.values() {
                let Some(manifest) = self.stored_manifest(&lease.id.deployment()) else {
                    continue;
                };
                // Not running, running something else than the stored group (a manifest update
                // whose deploy never happened), or not all of it (a deploy cut short: a
                // container created and never started, a replica never created).
                if running
                    .get(&lease.id)
                    .is_none_or(|w| needs_deploy(w, &manifest))
                {
                    self.deploy_stored(&lease.id, &mut report).await;
                }
            }
            for id in running.keys().filter(|id| live.contains_key(*id)) {
                tracing::info!(lease = %id, "adopted a running lease");
            }
        }
        // Manifests of deployments with no live lease of ours are left over from leases that
        // closed while the agent was down.
        match self.manifests.list() {
            Ok(stored) => {
                for (deployment, _) in stored {
                    if !live.keys().any(|l| l.deployment() == deployment) {
                        if let Err(e) = self.manifests.remove(&deployment) {
                            tracing::warn!(%deployment, error = %e, "cannot remove a manifest");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the stored manifests"),
        }
        self.carry = report;
        Ok(())
    }

    async fn order_is_open(&self, order: &str) -> Result<bool, AgentError> {
        let Some(id) = parse_order_id(order) else {
            return Ok(false);
        };
        let res: Result<OrderResponse, ChainError> = self
            .config
            .contracts
            .query_market(&self.client, &market::QueryMsg::Order { id })
            .await;
        match res {
            Ok(r) => Ok(r.order.state == market::OrderState::Open),
            Err(ChainError::Api { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One pass: bids on new open orders, closes timed-out bids, follows the leases (inventory,
    /// deploys, manifest timeouts, tear-downs), withdraws and sends the heartbeat when due.
    pub async fn tick(&mut self) -> Result<TickReport, AgentError> {
        let provider = self.provider_view().await?;
        let in_flight = self.in_flight()?;
        if in_flight.is_empty() {
            self.in_doubt.clear();
        } else {
            // Before any chain state: see `resolve_in_flight`.
            let height = self.client.latest_block().await?.height;
            let open: BTreeSet<String> = self
                .provider_bids()
                .await?
                .iter()
                .map(|b| b.id.to_string())
                .collect();
            let live: BTreeMap<LeaseId, Lease> = self
                .provider_leases()
                .await?
                .into_iter()
                .filter(|l| is_live(l.state))
                .map(|l| (l.id.clone(), l))
                .collect();
            self.resolve_in_flight(in_flight, height, &open, &live, false)
                .await?;
        }
        let mut report = std::mem::take(&mut self.carry);
        self.bid_on_orders(&provider, &mut report).await?;
        let now = self.chain_now().await?;
        let bids = self.provider_bids().await?;
        let mut open = self.close_stale_bids(bids, now, &mut report).await?;
        // A bid in doubt holds its resources like an open one.
        open.extend(
            self.in_doubt
                .keys()
                .filter_map(|k| parse_order_id(k.strip_prefix("bid/")?)),
        );
        let leases = self.provider_leases().await?;
        let live = self.follow_leases(&open, leases, now, &mut report).await?;
        self.withdraw(&live, now, &mut report).await?;
        self.heartbeat(now, &mut report).await?;
        report.active_leases = live.len();
        Ok(report)
    }

    // ---- orders and bids ----

    /// Lists the open orders and decides the new ones. `OpenOrders` pages from the last order
    /// seen; if that order was pruned meanwhile, markets before the fix refuse the page: the
    /// listing starts over (decided orders are skipped).
    async fn bid_on_orders(
        &mut self,
        provider: &ProviderView,
        report: &mut TickReport,
    ) -> Result<(), AgentError> {
        let mut seen = BTreeSet::new();
        let mut start_after: Option<OrderId> = None;
        let mut restarts = 0;
        loop {
            let res: Result<OrdersResponse, ChainError> = self
                .config
                .contracts
                .query_market(
                    &self.client,
                    &market::QueryMsg::OpenOrders {
                        start_after: start_after.clone(),
                        limit: Some(self.config.page_limit),
                    },
                )
                .await;
            let page = match res {
                Ok(page) => page,
                Err(e @ ChainError::Api { .. })
                    if start_after.is_some() && restarts < LIST_RESTARTS =>
                {
                    tracing::info!(error = %e, "open orders: the page start is gone, listing again");
                    restarts += 1;
                    start_after = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // Only an empty page ends the listing: the market may cap pages below the limit.
            let Some(last) = page.orders.last().map(|o| o.id.clone()) else {
                break;
            };
            if start_after.as_ref() == Some(&last) {
                // The same page again (a market that ignores the cursor): no more to list.
                break;
            }
            let mut bids = Vec::new();
            for order in page.orders {
                start_after = Some(order.id.clone());
                let key = order.id.to_string();
                if !seen.insert(key.clone()) {
                    continue;
                }
                report.orders_seen += 1;
                if self.decided.contains(&key) {
                    continue;
                }
                bids.extend(self.decide(&order.id, provider, report).await?);
            }
            // A page's bids go in one transaction: one block for all of them, not one each.
            self.send_bids(bids, report).await?;
        }
        // Orders no longer open are never listed again: forget them.
        self.decided.retain(|o| seen.contains(o));
        Ok(())
    }

    /// Evaluates an order with the bid engine: the bid to send (its resources are held in the
    /// inventory from now on), or `None` (declined, or the order is gone).
    async fn decide(
        &mut self,
        order: &OrderId,
        provider: &ProviderView,
        report: &mut TickReport,
    ) -> Result<Option<PendingBid>, AgentError> {
        let res: Result<OrderResponse, ChainError> = self
            .config
            .contracts
            .query_market(&self.client, &market::QueryMsg::Order { id: order.clone() })
            .await;
        let response = match res {
            Ok(r) => r,
            // Closed and pruned since it was listed.
            Err(ChainError::Api { message, .. }) if message.contains("not found") => {
                self.decided.insert(order.to_string());
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let view = OrderView::from_response(&response);
        let (engine, inventory, provider) = (
            self.engine.clone(),
            self.inventory.clone(),
            provider.clone(),
        );
        // Pricing may run an external script: off the async workers.
        let outcome =
            tokio::task::spawn_blocking(move || engine.evaluate(&view, &provider, &inventory))
                .await
                .expect("the bid engine does not panic");
        self.decided.insert(order.to_string());
        let bid = match outcome {
            BidOutcome::Declined(d) => {
                let why = format!("{} ({}): {}", d.policy, d.code, d.reason);
                report.declined.push((order.clone(), why));
                return Ok(None);
            }
            BidOutcome::Bid(bid) => bid,
        };
        let deposit = self.config.bid_deposit.clone();
        Ok(Some(PendingBid {
            order: order.clone(),
            kind: IntentKind::CreateBid {
                price: bid.price.to_string(),
                deposit: deposit.to_string(),
            },
            call: Call::Market(
                market::ExecuteMsg::CreateBid(bid.to_msg(self.config.reclamation_window)),
                vec![deposit],
            ),
        }))
    }

    /// Sends a page's bids in one transaction, each journaled as its own intent. If the chain
    /// refuses the transaction (one bid refused reverts them all), each is sent alone, so the
    /// others still land and the refused one is reported with its own reason.
    async fn send_bids(
        &mut self,
        bids: Vec<PendingBid>,
        report: &mut TickReport,
    ) -> Result<(), AgentError> {
        // A bid whose earlier transaction may still land is not sent again, nor held up with
        // the others.
        let (doubtful, bids): (Vec<_>, Vec<_>) = bids
            .into_iter()
            .partition(|b| self.in_doubt.contains_key(&format!("bid/{}", b.order)));
        for b in doubtful {
            self.settle_bid(&b.order, Sent::InDoubt, report);
        }
        if bids.len() > 1 {
            let intents = bids
                .iter()
                .map(|b| (format!("bid/{}", b.order), b.kind.clone(), &b.call))
                .collect();
            match self.transact_all(intents, now_wall()).await? {
                Sent::Done => {
                    for b in bids {
                        report.bids_placed.push(b.order.bid(self.me()));
                    }
                    return Ok(());
                }
                Sent::Refused(log) => {
                    tracing::info!(bids = bids.len(), %log, "the bids' transaction was refused: sending them one by one");
                }
                sent @ (Sent::Busy(_) | Sent::InDoubt) => {
                    for b in bids {
                        self.settle_bid(&b.order, sent.clone(), report);
                    }
                    return Ok(());
                }
            }
        }
        for b in bids {
            let sent = self
                .transact(format!("bid/{}", b.order), b.kind, now_wall(), b.call)
                .await?;
            self.settle_bid(&b.order, sent, report);
        }
        Ok(())
    }

    /// What a bid's transaction outcome means for the order and the inventory.
    fn settle_bid(&mut self, order: &OrderId, sent: Sent, report: &mut TickReport) {
        match sent {
            Sent::Done => report.bids_placed.push(order.bid(self.me())),
            // The chain answered: the bid will not exist. Free what it held.
            Sent::Refused(log) => {
                crate::bidengine::lock(&self.inventory).release(order);
                report.refused.push((order.clone(), log));
            }
            // Not included: the order is decided again next tick.
            Sent::Busy(log) => {
                tracing::info!(%order, %log, "bid not included; deciding the order again next tick");
                crate::bidengine::lock(&self.inventory).release(order);
                self.decided.remove(&order.to_string());
            }
            // An earlier bid may still land: the order stays decided, its resources held.
            Sent::InDoubt => tracing::info!(%order, "a bid on the order may still land"),
        }
    }

    /// Closes own open bids older than the bid timeout and frees what they held; returns the
    /// orders of the bids still open.
    async fn close_stale_bids(
        &mut self,
        bids: Vec<ChainBid>,
        now: u64,
        report: &mut TickReport,
    ) -> Result<BTreeSet<OrderId>, AgentError> {
        let timeout = self.config.bid_timeout.as_secs();
        let mut open = BTreeSet::new();
        for bid in bids {
            if now < bid.created_at.seconds().saturating_add(timeout) {
                open.insert(bid.id.order());
                continue;
            }
            // `CloseBid` on a bid that won meanwhile would close its lease: read it again
            // right before closing (this narrows the race to the block in between).
            let res: Result<market::BidResponse, ChainError> = self
                .config
                .contracts
                .query_market(&self.client, &market::QueryMsg::Bid { id: bid.id.clone() })
                .await;
            match res {
                Ok(r) if r.bid.state == market::BidState::Open => {}
                Ok(_) | Err(ChainError::Api { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            let msg = market::ExecuteMsg::CloseBid {
                bid: bid.id.clone(),
                reason: None,
            };
            let key = format!("close-bid/{}", bid.id);
            match self
                .transact(key, IntentKind::CloseBid {}, now, Call::Market(msg, vec![]))
                .await?
            {
                Sent::Done => {
                    tracing::info!(bid = %bid.id, "closed a bid that timed out");
                    crate::bidengine::lock(&self.inventory).release(&bid.id.order());
                    report.bids_closed.push(bid.id);
                }
                // Won or lost meanwhile (the lease pass sees to it), or not sent (next tick).
                Sent::Refused(log) | Sent::Busy(log) => {
                    tracing::info!(bid = %bid.id, %log, "closing a timed-out bid was refused");
                    open.insert(bid.id.order());
                }
                // An earlier close may still land.
                Sent::InDoubt => {
                    open.insert(bid.id.order());
                }
            }
        }
        Ok(open)
    }

    // ---- leases ----

    /// Inventory, deploys, manifest timeouts and tear-downs; returns the live leases left.
    async fn follow_leases(
        &mut self,
        open_bids: &BTreeSet<OrderId>,
        leases: Vec<Lease>,
        now: u64,
        report: &mut TickReport,
    ) -> Result<BTreeMap<LeaseId, Lease>, AgentError> {
        let mut live: BTreeMap<LeaseId, Lease> = leases
            .into_iter()
            .filter(|l| is_live(l.state))
            .map(|l| (l.id.clone(), l))
            .collect();
        // Won leases hold their resources for good.
        for lease in live.values() {
            self.hold_lease(lease).await;
        }
        let running = self.running().await;

        // Manifest timeouts and deploys from stored manifests.
        let mut awaiting = BTreeSet::new();
        let timeout = self.config.manifest_timeout.as_secs();
        let ids: Vec<LeaseId> = live.keys().cloned().collect();
        for id in ids {
            let lease = &live[&id];
            // A reclamation window that is over: the lease closes with the reason it started
            // reclaiming for.
            if let (LeaseState::Reclaiming, Some(deadline)) = (lease.state, lease.reclaim_deadline)
            {
                if now >= deadline.seconds() {
                    let reason = lease
                        .close_reason
                        .and_then(LeaseCloseReason::from_code)
                        .unwrap_or(LeaseCloseReason::Unspecified);
                    if self.close_lease(&id, reason, now, report).await? {
                        live.remove(&id);
                    }
                }
                continue;
            }
            // The backend did not answer: nothing is deployed or closed on a guess.
            let Some(running) = &running else { continue };
            let manifest = self.stored_manifest(&id.deployment());
            if let Some(workloads) = running.get(&id) {
                // What runs is all of the stored group, or there is nothing to compare it with.
                if !manifest
                    .as_ref()
                    .is_some_and(|m| needs_deploy(workloads, m))
                {
                    continue;
                }
            }
            if manifest.is_some() {
                if self.awaiting_deploy.contains(&id) {
                    self.deploy_stored(&id, report).await;
                } else {
                    awaiting.insert(id);
                }
                continue;
            }
            let expired = now >= lease.created_at.seconds().saturating_add(timeout);
            if lease.state != LeaseState::Active || !expired {
                continue;
            }
            if lease.reclamation_window.is_some() {
                // AEP-82: the promised window runs first; the lease closes at its end.
                self.start_reclaim(&id, LeaseCloseReason::ManifestTimeout, now)
                    .await?;
                continue;
            }
            if self
                .close_lease(&id, LeaseCloseReason::ManifestTimeout, now, report)
                .await?
            {
                live.remove(&id);
            }
        }
        self.awaiting_deploy = awaiting;

        // What runs but is no longer live on chain goes.
        if let Some(running) = &running {
            for id in running.keys().filter(|id| !live.contains_key(*id)) {
                self.teardown(id, &live, report).await;
            }
        }

        // Reservations of bids that are neither open nor won (lost, closed) and of leases that
        // ended are freed.
        let stale: Vec<OrderId> = {
            let inventory = crate::bidengine::lock(&self.inventory);
            inventory
                .reservations()
                .filter(|r| {
                    let won = live.contains_key(&r.order.bid(self.me()));
                    let bidding =
                        r.state == ReservationState::Reserved && open_bids.contains(&r.order);
                    !won && !bidding
                })
                .map(|r| r.order.clone())
                .collect()
        };
        for order in stale {
            tracing::info!(%order, "released the resources of a bid or lease that ended");
            crate::bidengine::lock(&self.inventory).release(&order);
        }
        self.withdrawn_at.retain(|id, _| live.contains_key(id));
        Ok(live)
    }

    /// Commits a live lease's reservation, or books it if the agent holds none (a restart, a
    /// bid placed by another process).
    async fn hold_lease(&self, lease: &Lease) {
        let order = lease.id.order();
        let state = crate::bidengine::lock(&self.inventory)
            .reservation(&order)
            .map(|r| r.state);
        match state {
            Some(ReservationState::Committed) => {}
            Some(_) => {
                let _ = crate::bidengine::lock(&self.inventory).commit(&order);
            }
            None => {
                let res: Result<GroupResponse, ChainError> = self
                    .config
                    .contracts
                    .query_market(
                        &self.client,
                        &market::QueryMsg::Group {
                            id: lease.id.group(),
                        },
                    )
                    .await;
                let units = match res {
                    Ok(r) => r.group.spec.resources,
                    Err(e) => {
                        tracing::warn!(lease = %lease.id, error = %e, "cannot read the lease's group");
                        return;
                    }
                };
                if let Err(e) = crate::bidengine::lock(&self.inventory).adopt(&order, &units) {
                    tracing::warn!(lease = %lease.id, error = ?e, "a live lease does not fit the inventory");
                }
            }
        }
    }

    /// This provider's leases the backend holds anything of, with their workloads' state;
    /// `None` when the backend cannot answer (nothing is deployed, closed or torn down on a
    /// guess).
    async fn running(&self) -> Option<BTreeMap<LeaseId, LeaseWorkloads>> {
        match self.backend.workloads().await {
            Ok(leases) => Some(
                leases
                    .into_iter()
                    .filter(|l| l.deployed.lease.provider.as_str() == self.address)
                    .map(|l| (l.deployed.lease.clone(), l))
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(backend = self.backend.name(), error = %e, "cannot list the backend's leases");
                None
            }
        }
    }

    fn stored_manifest(&self, deployment: &DeploymentId) -> Option<kumo_sdl::Manifest> {
        match self.manifests.get(deployment) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%deployment, error = %e, "cannot read a stored manifest");
                None
            }
        }
    }

    /// Deploys a lease's group from its deployment's stored manifest.
    async fn deploy_stored(&self, id: &LeaseId, report: &mut TickReport) {
        let Some(manifest) = self.stored_manifest(&id.deployment()) else {
            return;
        };
        let res: Result<DeploymentResponse, ChainError> = self
            .config
            .contracts
            .query_market(
                &self.client,
                &market::QueryMsg::Deployment {
                    id: id.deployment(),
                },
            )
            .await;
        let name = match res {
            Ok(r) => r
                .groups
                .into_iter()
                .find(|g| g.id.gseq == id.gseq)
                .map(|g| g.spec.name),
            Err(e) => {
                tracing::warn!(lease = %id, error = %e, "cannot read the lease's deployment");
                return;
            }
        };
        let Some(group) = name.and_then(|n| manifest.0.into_iter().find(|g| g.name == n)) else {
            tracing::warn!(lease = %id, "the stored manifest has no group for the lease");
            return;
        };
        match self.backend.deploy(id, &group).await {
            Ok(outcome) => {
                tracing::info!(lease = %id, ?outcome, "deployed from the stored manifest");
                report.leases_deployed.push(id.clone());
            }
            Err(e) => tracing::warn!(lease = %id, error = %e, "deploying a stored manifest failed"),
        }
    }

    /// Removes what the backend runs for a lease that is no longer live, frees its resources
    /// and, when no live lease of ours uses it any more, its deployment's manifest.
    async fn teardown(
        &mut self,
        id: &LeaseId,
        live: &BTreeMap<LeaseId, Lease>,
        report: &mut TickReport,
    ) {
        if let Err(e) = self.backend.teardown(id).await {
            tracing::warn!(lease = %id, error = %e, "tear-down failed; retrying next tick");
            return;
        }
        tracing::info!(lease = %id, "torn down: the lease is no longer live on chain");
        crate::bidengine::lock(&self.inventory).release(&id.order());
        self.withdrawn_at.remove(id);
        if let Err(e) = self.journal.remove(&format!("withdraw/{id}")) {
            tracing::warn!(lease = %id, error = %e, "journal");
        }
        let deployment = id.deployment();
        if !live.keys().any(|l| l.deployment() == deployment) {
            if let Err(e) = self.manifests.remove(&deployment) {
                tracing::warn!(%deployment, error = %e, "cannot remove a manifest");
            }
        }
        report.torn_down.push(id.clone());
    }

    /// Closes a lease as its provider (`CloseBid` with a reason); `true` if it closed.
    async fn close_lease(
        &mut self,
        id: &LeaseId,
        reason: LeaseCloseReason,
        now: u64,
        report: &mut TickReport,
    ) -> Result<bool, AgentError> {
        let msg = market::ExecuteMsg::CloseBid {
            bid: id.clone(),
            reason: Some(reason),
        };
        let kind = IntentKind::CloseLease {
            reason: reason.code(),
        };
        let key = format!("close-lease/{id}");
        match self
            .transact(key, kind, now, Call::Market(msg, vec![]))
            .await?
        {
            Sent::Done => {
                let why = format!("{reason:?} ({})", reason.code());
                tracing::info!(lease = %id, reason = %why, "closed a lease");
                crate::bidengine::lock(&self.inventory).release(&id.order());
                self.withdrawn_at.remove(id);
                self.journal.remove(&format!("withdraw/{id}"))?;
                report.leases_closed.push((id.clone(), why));
                Ok(true)
            }
            Sent::Refused(log) | Sent::Busy(log) => {
                tracing::warn!(lease = %id, %log, "closing the lease was refused");
                Ok(false)
            }
            Sent::InDoubt => Ok(false),
        }
    }

    /// Starts the reclamation window of a lease (AEP-82) for `reason`.
    async fn start_reclaim(
        &mut self,
        id: &LeaseId,
        reason: LeaseCloseReason,
        now: u64,
    ) -> Result<(), AgentError> {
        let msg = market::ExecuteMsg::StartReclaim {
            lease: id.clone(),
            reason,
        };
        let kind = IntentKind::StartReclaim {
            reason: reason.code(),
        };
        match self
            .transact(
                format!("reclaim/{id}"),
                kind,
                now,
                Call::Market(msg, vec![]),
            )
            .await?
        {
            Sent::Done => {
                tracing::info!(lease = %id, ?reason, "started the lease's reclamation window")
            }
            Sent::Refused(log) | Sent::Busy(log) => {
                tracing::warn!(lease = %id, %log, "starting the reclamation window was refused")
            }
            Sent::InDoubt => {}
        }
        Ok(())
    }

    // ---- payments and attendance ----

    /// `WithdrawLease` for each live lease (active or reclaiming) every withdraw period, and once early when its
    /// deployment's escrow runs dry before the next scheduled withdrawal (a lead of a tenth of
    /// the period, at most 10 min, before it does).
    async fn withdraw(
        &mut self,
        live: &BTreeMap<LeaseId, Lease>,
        now: u64,
        report: &mut TickReport,
    ) -> Result<(), AgentError> {
        let period = self.config.withdraw_period.as_secs().max(1);
        let lead = (period / 10).clamp(1, 600);
        for lease in live.values() {
            let id = &lease.id;
            let last = *self
                .withdrawn_at
                .entry(id.clone())
                .or_insert(lease.created_at.seconds());
            let scheduled = last.saturating_add(period);
            let mut due = now >= scheduled;
            if !due {
                if let Some(until) = self.funded_until(&id.deployment(), now, lead).await? {
                    let early = until.saturating_sub(lead);
                    due = until < scheduled && now >= early && last < early;
                }
            }
            if !due {
                continue;
            }
            let msg = market::ExecuteMsg::WithdrawLease { lease: id.clone() };
            let key = format!("withdraw/{id}");
            // Scheduled from now whatever the outcome: a refused withdrawal is not retried
            // every tick.
            self.withdrawn_at.insert(id.clone(), now);
            match self
                .transact(key, IntentKind::Withdraw {}, now, Call::Market(msg, vec![]))
                .await?
            {
                Sent::Done => report.withdrawals += 1,
                Sent::Refused(log) => tracing::warn!(lease = %id, %log, "withdrawal refused"),
                // Not sent: due again next tick.
                Sent::Busy(log) => {
                    tracing::info!(lease = %id, %log, "withdrawal not included; due again next tick");
                    self.withdrawn_at.remove(id);
                }
                // An earlier withdrawal may still land: it counts from its time.
                Sent::InDoubt => {}
            }
        }
        let deployments: BTreeSet<DeploymentId> = live.keys().map(|l| l.deployment()).collect();
        self.funded_until.retain(|d, _| deployments.contains(d));
        Ok(())
    }

    /// When the deployment's escrow account runs dry (chain seconds), read at most every
    /// `lead / 2` seconds.
    async fn funded_until(
        &mut self,
        deployment: &DeploymentId,
        now: u64,
        lead: u64,
    ) -> Result<Option<u64>, AgentError> {
        if let Some((read_at, until)) = self.funded_until.get(deployment) {
            if now < read_at.saturating_add((lead / 2).max(1)) {
                return Ok(*until);
            }
        }
        let res: Result<AccountResponse, ChainError> = self
            .config
            .contracts
            .query_escrow(
                &self.client,
                &escrow::QueryMsg::Account {
                    id: AccountId::Deployment(deployment.clone()),
                },
            )
            .await;
        let until = match res {
            Ok(r) => r.funded_until.map(|t| t.seconds()),
            Err(ChainError::Api { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        self.funded_until.insert(deployment.clone(), (now, until));
        Ok(until)
    }

    /// A heartbeat when the staking contract's last one is a period old. Skipped without a
    /// staking contract, without a bond and while jailed.
    async fn heartbeat(&mut self, now: u64, report: &mut TickReport) -> Result<(), AgentError> {
        let Some(period) = self.heartbeat_period else {
            return Ok(());
        };
        let res: Result<ProviderBondResponse, ChainError> = self
            .config
            .contracts
            .query_staking(
                &self.client,
                &staking::QueryMsg::Provider {
                    provider: self.address.clone(),
                },
            )
            .await;
        let bond = match res {
            Ok(r) => r.bond,
            Err(e @ ChainError::Api { .. }) => {
                tracing::debug!(error = %e, "no bond: no heartbeat");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if bond.jailed_until.is_some() {
            tracing::warn!(until = ?bond.jailed_until, "the provider is jailed: no heartbeat (unjail it)");
            return Ok(());
        }
        if now < bond.last_heartbeat.seconds().saturating_add(period) {
            return Ok(());
        }
        let msg = staking::ExecuteMsg::Heartbeat {};
        match self
            .transact(
                HEARTBEAT_KEY.to_string(),
                IntentKind::Heartbeat {},
                now,
                Call::Staking(msg),
            )
            .await?
        {
            Sent::Done => report.heartbeat = true,
            Sent::Refused(log) | Sent::Busy(log) => tracing::warn!(%log, "heartbeat not sent"),
            // An earlier heartbeat may still land.
            Sent::InDoubt => {}
        }
        Ok(())
    }

    // ---- transactions ----

    /// Journals the intent with the transaction's timeout height (the latest block's height
    /// plus [`AgentConfig::tx_timeout_blocks`]), broadcasts, and records the outcome: done, or
    /// removed when the chain refused it or it can no longer be included. A stale account
    /// sequence is retried once (after the chain client's own retries) with the account read
    /// again and the same timeout height. An unknown outcome (the node went away, no block
    /// included it in time) leaves the intent pending, and is an error: the next tick (or
    /// start) resolves it once the chain shows its effect or passes its timeout height. An
    /// intent still in doubt is not sent again ([`Sent::InDoubt`]).
    async fn transact(
        &self,
        key: String,
        kind: IntentKind,
        at: u64,
        call: Call,
    ) -> Result<Sent, AgentError> {
        self.transact_all(vec![(key, kind, &call)], at).await
    }

    /// [`Agent::transact`] for several intents in one transaction: each journaled with the
    /// same timeout height (a restart resolves each from chain state, as for one), all done or
    /// none. None is sent if one of them is still in doubt.
    async fn transact_all(
        &self,
        intents: Vec<(String, IntentKind, &Call)>,
        at: u64,
    ) -> Result<Sent, AgentError> {
        if let Some((key, ..)) = intents.iter().find(|(k, ..)| self.in_doubt.contains_key(k)) {
            tracing::info!(%key, "an earlier transaction may still land: not sent again");
            return Ok(Sent::InDoubt);
        }
        let height = self.client.latest_block().await?.height;
        let timeout_height = height.saturating_add(self.config.tx_timeout_blocks.max(1));
        let mut calls = Vec::with_capacity(intents.len());
        let mut journaled = Vec::with_capacity(intents.len());
        for (key, kind, call) in intents {
            let intent = Intent {
                key,
                kind,
                state: IntentState::Pending,
                at,
            };
            self.journal.record_in_flight(&intent, timeout_height)?;
            journaled.push(intent);
            calls.push(call);
        }
        let mut sent = self.broadcast(&calls, timeout_height).await;
        if matches!(&sent, Err(e) if is_sequence_mismatch(e)) {
            tracing::info!(key = %journaled[0].key, "account sequence mismatch: reading the account again and retrying");
            self.client.account(&self.address).await?;
            sent = self.broadcast(&calls, timeout_height).await;
        }
        let outcome = match sent {
            Ok(_) => {
                for intent in journaled {
                    self.journal.record(&Intent {
                        state: IntentState::Done,
                        ..intent
                    })?;
                }
                return Ok(Sent::Done);
            }
            Err(e) if is_sequence_mismatch(&e) || e.is_timeout_height() => {
                Sent::Busy(e.to_string())
            }
            Err(ChainError::TxFailed { log, .. }) => Sent::Refused(log),
            // Nothing was broadcast.
            Err(ChainError::SimulationFailed { message }) => Sent::Refused(message),
            Err(e) => return Err(e.into()),
        };
        for intent in journaled {
            self.journal.remove(&intent.key)?;
        }
        Ok(outcome)
    }

    /// Signs and broadcasts `calls` as one transaction.
    async fn broadcast(
        &self,
        calls: &[&Call],
        timeout_height: u64,
    ) -> Result<TxResponse, ChainError> {
        let contracts = &self.config.contracts;
        let msgs = calls
            .iter()
            .map(|call| match call {
                Call::Market(msg, funds) => {
                    kumo_chain::tx::msg_execute(&self.address, &contracts.market, msg, funds)
                }
                Call::Staking(msg) => {
                    kumo_chain::tx::msg_execute(&self.address, &contracts.staking, msg, &[])
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .sign_and_broadcast_with_timeout(&self.key, msgs, "", Some(timeout_height))
            .await
    }

    // ---- transactions in flight ----

    /// The pending intents that carry a timeout height, with it.
    fn in_flight(&self) -> Result<Vec<(Intent, u64)>, AgentError> {
        Ok(self
            .journal
            .entries()?
            .into_iter()
            .filter(|e| e.intent.state == IntentState::Pending)
            .filter_map(
                |Entry {
                     intent,
                     timeout_height,
                 }| Some((intent, timeout_height?)),
            )
            .collect())
    }

    /// Resolves pending intents with a timeout height against the chain (`open_bids`: the
    /// provider's open bids; `live`: its live leases; both read after the chain's latest
    /// height was `height`), at start and at the beginning of every tick while there are any:
    ///
    /// - its effect is on chain (the bid exists; the bid is no longer open; the lease is no
    ///   longer live; the lease is reclaiming): done;
    /// - otherwise, while the chain's latest height is at most its timeout height, its
    ///   transaction may still be in a mempool: in doubt. Nothing is sent for it again; a
    ///   bid's order stays decided and its resources held; a withdrawal counts from its time;
    /// - once the chain is past it, the transaction can never land: removed, and the tick does
    ///   again what chain state still asks for (the order is decided again). A withdrawal or a
    ///   heartbeat, whose effect is not read, counts as done at its time (withdrawals are
    ///   cumulative) or is dropped (the tick reads the last heartbeat).
    ///
    /// The height is read before chain state: had the transaction landed (at its timeout
    /// height at the latest), state read at a later height would show it.
    async fn resolve_in_flight(
        &mut self,
        in_flight: Vec<(Intent, u64)>,
        height: u64,
        open_bids: &BTreeSet<String>,
        live: &BTreeMap<LeaseId, Lease>,
        at_start: bool,
    ) -> Result<(), AgentError> {
        self.in_doubt.clear();
        if in_flight.is_empty() {
            return Ok(());
        }
        let is_live = |lease: &str| live.keys().any(|l| l.to_string() == lease);
        for (intent, timeout_height) in in_flight {
            let key = intent.key.clone();
            let target = |prefix: &str| key.strip_prefix(prefix).unwrap_or_default().to_string();
            // Some(landed), or None when the effect is not read.
            let landed =
                match &intent.kind {
                    IntentKind::CreateBid { .. } => {
                        let order = parse_order_id(&target("bid/"));
                        match order {
                            Some(order) => Some(self.bid_exists(&order).await?),
                            None => Some(false),
                        }
                    }
                    IntentKind::CloseBid {} => Some(!open_bids.contains(&target("close-bid/"))),
                    IntentKind::CloseLease { .. } => Some(!is_live(&target("close-lease/"))),
                    IntentKind::StartReclaim { .. } => {
                        let lease = target("reclaim/");
                        Some(!live.iter().any(|(id, l)| {
                            id.to_string() == lease && l.state == LeaseState::Active
                        }))
                    }
                    IntentKind::Withdraw {} | IntentKind::Heartbeat {} => None,
                };
            let done = Intent {
                state: IntentState::Done,
                ..intent.clone()
            };
            if landed == Some(true) {
                tracing::info!(%key, "a transaction in flight landed");
                self.journal.record(&done)?;
                if let IntentKind::CreateBid { .. } = intent.kind {
                    self.decided.insert(target("bid/"));
                }
                continue;
            }
            if height <= timeout_height {
                tracing::info!(%key, height, timeout_height, "a transaction in flight may still land: in doubt");
                self.in_doubt.insert(key.clone(), timeout_height);
                match &intent.kind {
                    IntentKind::CreateBid { .. } => {
                        let order = target("bid/");
                        if at_start {
                            self.hold_order(&order).await?;
                        }
                        self.decided.insert(order);
                    }
                    IntentKind::Withdraw {} => {
                        if let Some(id) = live.keys().find(|l| l.to_string() == target("withdraw/"))
                        {
                            self.withdrawn_at.entry(id.clone()).or_insert(intent.at);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            tracing::info!(%key, height, timeout_height, "a transaction in flight never landed and never will");
            match &intent.kind {
                IntentKind::CreateBid { .. } => {
                    self.journal.remove(&key)?;
                    let order = target("bid/");
                    if let Some(id) = parse_order_id(&order) {
                        crate::bidengine::lock(&self.inventory).release(&id);
                    }
                    self.decided.remove(&order);
                }
                // Counts as done at its time: the next withdrawal pays whatever this one missed.
                IntentKind::Withdraw {} => {
                    self.journal.record(&done)?;
                    if let Some(id) = live.keys().find(|l| l.to_string() == target("withdraw/")) {
                        self.withdrawn_at.entry(id.clone()).or_insert(intent.at);
                    }
                }
                _ => self.journal.remove(&key)?,
            }
        }
        Ok(())
    }

    /// Whether the provider's bid on `order` exists (in any state).
    async fn bid_exists(&self, order: &OrderId) -> Result<bool, AgentError> {
        let res: Result<market::BidResponse, ChainError> = self
            .config
            .contracts
            .query_market(
                &self.client,
                &market::QueryMsg::Bid {
                    id: order.bid(self.me()),
                },
            )
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(ChainError::Api { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Holds an open order's resources for a bid in doubt (after a restart), as for an open
    /// bid.
    async fn hold_order(&self, order: &str) -> Result<(), AgentError> {
        let Some(id) = parse_order_id(order) else {
            return Ok(());
        };
        let res: Result<OrderResponse, ChainError> = self
            .config
            .contracts
            .query_market(&self.client, &market::QueryMsg::Order { id: id.clone() })
            .await;
        match res {
            Ok(r) if r.order.state == market::OrderState::Open => {
                let _ =
                    crate::bidengine::lock(&self.inventory).reserve(&id, &r.group.spec.resources);
                Ok(())
            }
            Ok(_) | Err(ChainError::Api { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ---- listings ----

    /// The provider's open bids, every page.
    async fn provider_bids(&self) -> Result<Vec<ChainBid>, AgentError> {
        self.list_all(
            |start_after| market::QueryMsg::ProviderBids {
                provider: self.address.clone(),
                start_after,
                limit: Some(self.config.page_limit),
            },
            |r: BidsResponse| r.bids,
            |b| b.id.clone(),
        )
        .await
    }

    /// The provider's leases that are not closed, every page.
    async fn provider_leases(&self) -> Result<Vec<Lease>, AgentError> {
        self.list_all(
            |start_after| market::QueryMsg::ProviderLeases {
                provider: self.address.clone(),
                start_after,
                limit: Some(self.config.page_limit),
            },
            |r: LeasesResponse| r.leases,
            |l| l.id.clone(),
        )
        .await
    }

    /// Every page of a market listing, until an empty page. Should a page fail after the first
    /// (a market that looks its cursor up, and the item was pruned), the listing restarts, a
    /// few times at most.
    async fn list_all<R, T, K>(
        &self,
        query: impl Fn(Option<K>) -> market::QueryMsg,
        items: impl Fn(R) -> Vec<T>,
        key: impl Fn(&T) -> K,
    ) -> Result<Vec<T>, AgentError>
    where
        R: serde::de::DeserializeOwned,
        K: Ord + Clone,
    {
        let mut out = BTreeMap::new();
        let mut start_after: Option<K> = None;
        let mut restarts = 0;
        loop {
            let res: Result<R, ChainError> = self
                .config
                .contracts
                .query_market(&self.client, &query(start_after.clone()))
                .await;
            let page = match res {
                Ok(p) => items(p),
                Err(ChainError::Api { .. })
                    if start_after.is_some() && restarts < LIST_RESTARTS =>
                {
                    restarts += 1;
                    start_after = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // Only an empty page ends the listing: the market may cap pages below the limit.
            let Some(last) = page.last().map(&key) else {
                break;
            };
            if start_after.as_ref() == Some(&last) {
                // The same page again (a market that ignores the cursor): no more to list.
                break;
            }
            for item in page {
                let k = key(&item);
                start_after = Some(k.clone());
                out.insert(k, item);
            }
        }
        Ok(out.into_values().collect())
    }
}

/// Whether a lease the backend holds must be deployed (again) from `manifest`: it runs another
/// group (see [`differs`]), or fewer replicas of a service of its group than the group asks
/// for (created and never started, stopped, never created). Deploys are idempotent: what runs
/// is kept.
fn needs_deploy(workloads: &LeaseWorkloads, manifest: &kumo_sdl::Manifest) -> bool {
    let deployed = &workloads.deployed;
    if differs(deployed, manifest) {
        return true;
    }
    manifest
        .0
        .iter()
        .find(|g| deployed.group.as_ref() == Some(&g.name))
        .is_some_and(|group| workloads.short_of(group))
}

/// Whether a running lease does not run its group of `manifest`: no workloads, another hash,
/// or a group the manifest does not have.
fn differs(deployed: &DeployedLease, manifest: &kumo_sdl::Manifest) -> bool {
    let Some(name) = &deployed.group else {
        return true;
    };
    let Some(group) = manifest.0.iter().find(|g| &g.name == name) else {
        return true;
    };
    deployed.manifest_hash.as_deref() != Some(crate::docker::group_hash(group).as_str())
}

/// The SDK's "account sequence mismatch" (code 32), in CheckTx or in simulation.
fn is_sequence_mismatch(e: &ChainError) -> bool {
    match e {
        ChainError::TxFailed {
            code, codespace, ..
        } => *code == 32 && codespace == "sdk",
        ChainError::SimulationFailed { message } => {
            message.contains("account sequence mismatch")
                || message.contains("incorrect account sequence")
        }
        _ => false,
    }
}

/// `owner/dseq/gseq/oseq`, as an order id prints.
fn parse_order_id(s: &str) -> Option<OrderId> {
    let mut parts = s.split('/');
    let owner = parts.next()?;
    let dseq = parts.next()?.parse().ok()?;
    let gseq = parts.next()?.parse().ok()?;
    let oseq = parts.next()?.parse().ok()?;
    if parts.next().is_some() || owner.is_empty() {
        return None;
    }
    Some(
        DeploymentId::new(Addr::unchecked(owner), dseq)
            .group(gseq)
            .order(oseq),
    )
}

fn now_wall() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_parse_as_they_print() {
        let id = DeploymentId::new(Addr::unchecked("kumo1abc"), 7)
            .group(2)
            .order(3);
        assert_eq!(parse_order_id(&id.to_string()), Some(id));
        assert_eq!(parse_order_id("kumo1abc/7/2"), None);
    }

    #[test]
    fn sequence_mismatches_are_recognised() {
        let check = ChainError::TxFailed {
            txhash: String::new(),
            code: 32,
            codespace: "sdk".into(),
            log: String::new(),
        };
        assert!(is_sequence_mismatch(&check));
        let wasm = ChainError::TxFailed {
            txhash: String::new(),
            code: 32,
            codespace: "wasm".into(),
            log: String::new(),
        };
        assert!(!is_sequence_mismatch(&wasm));
        let sim = ChainError::SimulationFailed {
            message: "account sequence mismatch, expected 3, got 2".into(),
        };
        assert!(is_sequence_mismatch(&sim));
    }
}
