//! Locating the shared SDL data (Akash's parity fixtures and the real-world corpus), which lives
//! beside the repository and is never copied into it.

#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/sdl`, beside the repository root (override with `KUMO_SHARED_DIR`).
pub fn shared_sdl() -> PathBuf {
    let base = std::env::var_os("KUMO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = base.join("sdl");
    assert!(
        dir.is_dir(),
        "SDL test data not found at {}: clone the repository beside shared/ or set KUMO_SHARED_DIR",
        dir.display()
    );
    dir
}

pub fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sorted entries of a directory.
pub fn list(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}
