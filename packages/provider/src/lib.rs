//! The Kumo provider agent: turns won leases into running workloads and keeps the on-chain side
//! honest (bids, heartbeats, withdrawals, tear-down).

pub mod agent;
pub mod auth;
pub mod backend;
pub mod bidengine;
pub mod config;
pub mod daemon;
pub mod docker;
pub mod gateway;
pub mod gpu;
pub mod inventory;
pub mod journal;
pub mod kube;
pub mod metrics;
