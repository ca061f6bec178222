//! The agent's chain side: watches open orders, decides with the [`BidEngine`], and bids through
//! the journal so that a restart never loses or repeats a transaction.
//!
//! One [`Agent::tick`] is one pass: new open orders are evaluated and bid on; the caller runs it
//! on a timer. [`Agent::start`] reconciles first: pending journal intents are resolved against
//! the chain, and the provider's open bids found on chain hold their inventory again.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cosmwasm_std::Coin;
use kumo::market::{self, BidsResponse, OrderResponse, OrdersResponse};
use kumo::registry::{self, ProviderResponse};
use kumo::{BidId, OrderId};
use kumo_chain::{ChainError, Client, Key, KumoContracts};

use crate::bidengine::{BidEngine, BidOutcome, OrderView, ProviderView};
use crate::inventory::Inventory;
use crate::journal::{Intent, IntentKind, IntentState, Journal, JournalError};

/// Orders per query page (the market's maximum).
const PAGE: u32 = 30;

pub struct AgentConfig {
    pub contracts: KumoContracts,
    /// Sent with every bid; the market's minimum for the denomination at least.
    pub bid_deposit: Coin,
    /// Offered on every bid (AEP-82); `None` bids without one.
    pub reclamation_window: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{address} is not a registered provider: register it first (kumo provider register)")]
    NotRegistered { address: String },
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub orders_seen: usize,
    pub bids_placed: Vec<BidId>,
    /// Orders not bid on, with the policy's reason (also logged and counted by the engine).
    pub declined: Vec<(OrderId, String)>,
    /// Bids the chain refused (the order closed meanwhile, ...), with the reason.
    pub refused: Vec<(OrderId, String)>,
}

pub struct Agent {
    client: Client,
    key: Key,
    address: String,
    config: AgentConfig,
    engine: Arc<BidEngine>,
    inventory: Arc<Mutex<Inventory>>,
    journal: Journal,
    /// Orders already decided (bid on or declined) in this run.
    decided: BTreeSet<String>,
}

impl Agent {
    /// Opens the agent: checks the provider is registered, resolves the journal's pending
    /// intents against the chain and re-reserves the inventory of the provider's open bids.
    pub async fn start(
        client: Client,
        key: Key,
        config: AgentConfig,
        engine: BidEngine,
        inventory: Inventory,
        journal: Journal,
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
            decided: BTreeSet::new(),
        };
        agent.provider_view().await?;
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

    /// The chain is the truth: a pending bid intent whose bid exists is done; one whose bid is
    /// missing never landed (the order is evaluated again, and the market refuses a second bid
    /// from the same provider if the first lands late). Open bids hold their inventory.
    async fn reconcile(&mut self) -> Result<(), AgentError> {
        // One paged listing of the provider's open bids serves both the journal and the
        // inventory (no query per pending intent).
        let mut start_after = None;
        loop {
            let page: BidsResponse = self
                .config
                .contracts
                .query_market(
                    &self.client,
                    &market::QueryMsg::ProviderBids {
                        provider: self.address.clone(),
                        start_after: start_after.clone(),
                        limit: Some(PAGE),
                    },
                )
                .await?;
            let n = page.bids.len();
            for bid in page.bids {
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
                start_after = Some(bid.id);
            }
            if n < PAGE as usize {
                break;
            }
        }
        for intent in self.journal.pending()? {
            let Some(order) = intent.key.strip_prefix("bid/") else {
                continue;
            };
            if self.decided.contains(order) {
                self.journal.record(&Intent {
                    state: IntentState::Done,
                    ..intent
                })?;
            } else {
                self.journal.remove(&intent.key)?;
            }
        }
        Ok(())
    }

    /// One pass over the open orders: evaluates the ones not decided yet and bids.
    pub async fn tick(&mut self) -> Result<TickReport, AgentError> {
        let provider = self.provider_view().await?;
        let mut report = TickReport::default();
        let mut start_after: Option<OrderId> = None;
        loop {
            let page: OrdersResponse = self
                .config
                .contracts
                .query_market(
                    &self.client,
                    &market::QueryMsg::OpenOrders {
                        start_after: start_after.clone(),
                        limit: Some(PAGE),
                    },
                )
                .await?;
            let n = page.orders.len();
            for order in page.orders {
                report.orders_seen += 1;
                start_after = Some(order.id.clone());
                if self.decided.contains(&order.id.to_string()) {
                    continue;
                }
                self.decide(&order.id, &provider, &mut report).await?;
            }
            if n < PAGE as usize {
                break;
            }
        }
        Ok(report)
    }

    async fn decide(
        &mut self,
        order: &OrderId,
        provider: &ProviderView,
        report: &mut TickReport,
    ) -> Result<(), AgentError> {
        let response: OrderResponse = self
            .config
            .contracts
            .query_market(&self.client, &market::QueryMsg::Order { id: order.clone() })
            .await?;
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
                return Ok(());
            }
            BidOutcome::Bid(bid) => bid,
        };
        let key = format!("bid/{order}");
        let deposit = &self.config.bid_deposit;
        self.journal.record(&Intent {
            key: key.clone(),
            kind: IntentKind::CreateBid {
                price: bid.price.to_string(),
                deposit: deposit.to_string(),
            },
            state: IntentState::Pending,
            at: now(),
        })?;
        let msg = market::ExecuteMsg::CreateBid(bid.to_msg(self.config.reclamation_window));
        let sent = self
            .config
            .contracts
            .execute_market(&self.client, &self.key, &msg, std::slice::from_ref(deposit))
            .await;
        match sent {
            Ok(_) => {
                self.journal.record(&Intent {
                    key,
                    kind: IntentKind::CreateBid {
                        price: bid.price.to_string(),
                        deposit: deposit.to_string(),
                    },
                    state: IntentState::Done,
                    at: now(),
                })?;
                report
                    .bids_placed
                    .push(order.bid(cosmwasm_std::Addr::unchecked(&self.address)));
            }
            // The chain answered: the bid will not exist. Free what it held.
            Err(ChainError::TxFailed { log, .. }) => {
                self.journal.remove(&key)?;
                crate::bidengine::lock(&self.inventory).release(order);
                report.refused.push((order.clone(), log));
            }
            // Unknown outcome (the node went away): the intent stays pending and the next
            // start resolves it from chain state.
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
