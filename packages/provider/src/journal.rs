//! The agent's durable journal: every chain transaction is recorded as an intent *before* it is
//! broadcast and marked done once its outcome is known, so that an agent killed at any moment
//! resolves what it was doing on restart by reading chain state, and never sends a transaction
//! twice. Stored with redb (pure Rust, crash-safe commits, no C library to build).
//!
//! An intent whose transaction carries a `timeout_height` is recorded with it
//! ([`Journal::record_in_flight`]): until the chain is past that height, a pending intent whose
//! effect is not on chain may still land (its transaction may sit in a mempool) and is in doubt;
//! after it, it never can. Records written without one (by earlier versions) read as before.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("intents");

/// What the agent meant to do, keyed by the object it acts on: `bid/<order>`,
/// `close-bid/<bid>`, `close-lease/<lease>`, `reclaim/<lease>`, `withdraw/<lease>`,
/// `heartbeat`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub key: String,
    pub kind: IntentKind,
    pub state: IntentState,
    /// Unix seconds when the intent was recorded.
    pub at: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// `CreateBid` on an order at a per-second price.
    CreateBid { price: String, deposit: String },
    /// `CloseBid` of an own open bid (the bid timed out). Once done it stays, so that a
    /// restarted agent does not bid on the order again.
    CloseBid {},
    /// `CloseBid` of an active bid: closes its lease with a provider reason code (10003).
    CloseLease { reason: u32 },
    /// `StartReclaim` of a lease with a reclamation window (AEP-82), with the reason code its
    /// close will carry.
    StartReclaim { reason: u32 },
    /// `WithdrawLease`; once done, `at` is when the lease was last withdrawn (chain time).
    Withdraw {},
    /// A staking `Heartbeat`.
    Heartbeat {},
}

/// An intent as stored: the intent, and the `timeout_height` its transaction was signed with,
/// if any (one JSON object: records without the field are those of earlier versions, and
/// earlier versions read the intent and ignore the field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub intent: Intent,
    /// No block above this height includes the intent's transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_height: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentState {
    /// Recorded; the transaction may or may not have reached the chain.
    Pending,
    /// The chain has the result (the bid exists, or was refused for good).
    Done,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal {path}: {reason}; is another agent using this data dir?")]
    Open { path: String, reason: String },
    #[error("journal: {0}")]
    Store(String),
    #[error("journal record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

pub struct Journal {
    db: Database,
}

impl Journal {
    /// Opens (or creates) the journal file at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        #[allow(clippy::result_large_err)] // Only here, once, at start.
        let open = || -> Result<Database, redb::Error> {
            let db = Database::create(path)?;
            // The table exists from the start, so readers never see "no such table".
            let tx = db.begin_write()?;
            tx.open_table(INTENTS)?;
            tx.commit()?;
            Ok(db)
        };
        let db = open().map_err(|e| JournalError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Journal { db })
    }

    /// Records (or replaces) an intent durably: the commit is on disk when this returns.
    pub fn record(&self, intent: &Intent) -> Result<(), JournalError> {
        self.write(&Entry {
            intent: intent.clone(),
            timeout_height: None,
        })
    }

    /// Records (or replaces) an intent whose transaction is signed with `timeout_height`,
    /// durably, before it is broadcast.
    pub fn record_in_flight(
        &self,
        intent: &Intent,
        timeout_height: u64,
    ) -> Result<(), JournalError> {
        self.write(&Entry {
            intent: intent.clone(),
            timeout_height: Some(timeout_height),
        })
    }

    fn write(&self, entry: &Entry) -> Result<(), JournalError> {
        let intent = &entry.intent;
        let bytes = serde_json::to_vec(entry).map_err(|e| JournalError::Corrupt {
            key: intent.key.clone(),
            reason: e.to_string(),
        })?;
        let tx = self.db.begin_write().map_err(store)?;
        {
            let mut table = tx.open_table(INTENTS).map_err(store)?;
            table
                .insert(intent.key.as_str(), bytes.as_slice())
                .map_err(store)?;
        }
        tx.commit().map_err(store)?;
        Ok(())
    }

    pub fn get(&self, key: &str) -> Result<Option<Intent>, JournalError> {
        Ok(self.entry(key)?.map(|e| e.intent))
    }

    /// An intent with its timeout height.
    pub fn entry(&self, key: &str) -> Result<Option<Entry>, JournalError> {
        let tx = self.db.begin_read().map_err(store)?;
        let table = tx.open_table(INTENTS).map_err(store)?;
        let value = table.get(key).map_err(store)?;
        value.map(|v| decode(key, v.value())).transpose()
    }

    /// Every intent still pending (what a restart must resolve).
    pub fn pending(&self) -> Result<Vec<Intent>, JournalError> {
        let tx = self.db.begin_read().map_err(store)?;
        let table = tx.open_table(INTENTS).map_err(store)?;
        let mut out = vec![];
        for item in table.iter().map_err(store)? {
            let (k, v) = item.map_err(store)?;
            let entry = decode(k.value(), v.value())?;
            if entry.intent.state == IntentState::Pending {
                out.push(entry.intent);
            }
        }
        Ok(out)
    }

    /// Every intent, pending or done, in key order.
    pub fn all(&self) -> Result<Vec<Intent>, JournalError> {
        Ok(self.entries()?.into_iter().map(|e| e.intent).collect())
    }

    /// Every intent with its timeout height, in key order.
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        let tx = self.db.begin_read().map_err(store)?;
        let table = tx.open_table(INTENTS).map_err(store)?;
        let mut out = vec![];
        for item in table.iter().map_err(store)? {
            let (k, v) = item.map_err(store)?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    pub fn remove(&self, key: &str) -> Result<(), JournalError> {
        let tx = self.db.begin_write().map_err(store)?;
        {
            let mut table = tx.open_table(INTENTS).map_err(store)?;
            table.remove(key).map_err(store)?;
        }
        tx.commit().map_err(store)?;
        Ok(())
    }
}

/// redb's errors are large (160 bytes); the journal keeps their message.
fn store(e: impl Into<redb::Error>) -> JournalError {
    JournalError::Store(e.into().to_string())
}

fn decode(key: &str, bytes: &[u8]) -> Result<Entry, JournalError> {
    serde_json::from_slice(bytes).map_err(|e| JournalError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bid(key: &str, state: IntentState) -> Intent {
        Intent {
            key: key.into(),
            kind: IntentKind::CreateBid {
                price: "1".into(),
                deposit: "500000ukumo".into(),
            },
            state,
            at: 1,
        }
    }

    #[test]
    fn intents_survive_reopening_and_pending_lists_only_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        {
            let j = Journal::open(&path).unwrap();
            j.record(&bid("bid/a", IntentState::Pending)).unwrap();
            j.record(&bid("bid/b", IntentState::Pending)).unwrap();
            j.record(&bid("bid/b", IntentState::Done)).unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert_eq!(
            j.pending().unwrap(),
            vec![bid("bid/a", IntentState::Pending)]
        );
        assert_eq!(j.get("bid/b").unwrap().unwrap().state, IntentState::Done);
        assert_eq!(j.all().unwrap().len(), 2);
        j.remove("bid/a").unwrap();
        assert!(j.pending().unwrap().is_empty());
        assert!(j.get("bid/a").unwrap().is_none());
    }

    #[test]
    fn every_intent_kind_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("journal.redb")).unwrap();
        let kinds = [
            IntentKind::CloseBid {},
            IntentKind::CloseLease { reason: 10003 },
            IntentKind::StartReclaim { reason: 10003 },
            IntentKind::Withdraw {},
            IntentKind::Heartbeat {},
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let intent = Intent {
                key: format!("k{i}"),
                kind,
                state: IntentState::Pending,
                at: 7,
            };
            j.record(&intent).unwrap();
            assert_eq!(j.get(&intent.key).unwrap(), Some(intent));
        }
    }

    #[test]
    fn timeout_heights_are_kept_and_old_records_read_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        let j = Journal::open(&path).unwrap();
        let pending = bid("bid/a", IntentState::Pending);
        j.record_in_flight(&pending, 120).unwrap();
        assert_eq!(
            j.entry("bid/a").unwrap(),
            Some(Entry {
                intent: pending.clone(),
                timeout_height: Some(120)
            })
        );
        assert_eq!(j.get("bid/a").unwrap(), Some(pending.clone()));
        assert_eq!(j.pending().unwrap(), vec![pending.clone()]);
        // Done replaces it, without a timeout height.
        j.record(&bid("bid/a", IntentState::Done)).unwrap();
        assert_eq!(j.entries().unwrap()[0].timeout_height, None);

        // A record of an earlier version: the intent alone.
        let old = serde_json::to_vec(&bid("bid/b", IntentState::Pending)).unwrap();
        let tx = j.db.begin_write().unwrap();
        tx.open_table(INTENTS)
            .unwrap()
            .insert("bid/b", old.as_slice())
            .unwrap();
        tx.commit().unwrap();
        let entry = j.entry("bid/b").unwrap().unwrap();
        assert_eq!(entry.intent, bid("bid/b", IntentState::Pending));
        assert_eq!(entry.timeout_height, None);
        // And what this version writes is still an intent to an earlier one.
        j.record_in_flight(&bid("bid/c", IntentState::Pending), 7)
            .unwrap();
        let tx = j.db.begin_read().unwrap();
        let table = tx.open_table(INTENTS).unwrap();
        let raw = table.get("bid/c").unwrap().unwrap();
        let as_before: Intent = serde_json::from_slice(raw.value()).unwrap();
        assert_eq!(as_before, bid("bid/c", IntentState::Pending));
    }

    #[test]
    fn an_unreadable_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        std::fs::write(&path, b"not a database").unwrap();
        let err = Journal::open(&path).err().expect("garbage is refused");
        assert!(err.to_string().contains("journal.redb"), "{err}");
    }
}
