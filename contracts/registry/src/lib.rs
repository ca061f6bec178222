//! Kumo registry contract (in progress).
