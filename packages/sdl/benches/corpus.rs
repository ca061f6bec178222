//! Parses and hashes every file of the SDL corpus (`shared/sdl/corpus`) in one process.
//! `cargo bench -p kumo-sdl`; `scripts/sdl-bench` compares the throughput with Akash's reference.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn corpus() -> Vec<String> {
    let dir = std::env::var_os("KUMO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("sdl/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn parse_and_hash(c: &mut Criterion) {
    let docs = corpus();
    let bytes: usize = docs.iter().map(String::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse_and_hash", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for doc in &docs {
                if let Ok(sdl) = kumo_sdl::parse(doc) {
                    std::hint::black_box(sdl.manifest_version());
                    ok += 1;
                }
            }
            ok
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_hash);
criterion_main!(benches);
