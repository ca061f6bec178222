//! Kumo escrow contract (in progress).
