//! Kumo market contract (in progress).
