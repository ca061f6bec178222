//! Files per second for parsing and hashing a directory of SDL files, for `scripts/sdl-bench`.
//! Usage: `throughput DIR [SECONDS]`.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: throughput DIR [SECONDS]");
        std::process::exit(2);
    };
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut docs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            eprintln!("cannot read {dir}: {e}");
            std::process::exit(1)
        })
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if let Ok(text) = std::fs::read_to_string(&path) {
            docs.push(text);
        }
    }
    let (mut files, mut passes, mut accepted) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(seconds) || passes == 0 {
        accepted = 0;
        for doc in &docs {
            if let Ok(sdl) = kumo_sdl::parse(doc) {
                std::hint::black_box(sdl.manifest_version());
                accepted += 1;
            }
            files += 1;
        }
        passes += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "kumo-sdl: {} files ({accepted} accepted), {passes} passes in {elapsed:.2} s: {:.0} files/s, {:.2} ms per corpus pass",
        docs.len(),
        files as f64 / elapsed,
        elapsed * 1000.0 / passes as f64
    );
}
