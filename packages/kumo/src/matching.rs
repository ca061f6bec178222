//! Matching (in progress).
