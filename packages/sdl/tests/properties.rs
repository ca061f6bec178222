//! Property tests: no input makes the parser panic, and unit parsing round-trips.

mod common;

use kumo_sdl::units::{self, GI, KI, MI, TI};
use proptest::prelude::*;

/// Random YAML built from SDL vocabulary, so that generated documents reach deep into the
/// parser instead of failing at the first key.
fn yaml_value(depth: u32) -> BoxedStrategy<String> {
    let keys = prop::sample::select(vec![
        "version",
        "services",
        "profiles",
        "compute",
        "placement",
        "deployment",
        "endpoints",
        "image",
        "expose",
        "port",
        "as",
        "to",
        "global",
        "proto",
        "accept",
        "http_options",
        "params",
        "storage",
        "mount",
        "readOnly",
        "resources",
        "cpu",
        "units",
        "memory",
        "size",
        "gpu",
        "attributes",
        "vendor",
        "nvidia",
        "model",
        "ram",
        "interface",
        "pricing",
        "denom",
        "amount",
        "profile",
        "count",
        "signedBy",
        "anyOf",
        "allOf",
        "kind",
        "ip",
        "name",
        "persistent",
        "class",
        "credentials",
        "host",
        "env",
        "command",
        "tee",
        "reclamation",
        "min_window",
        "web",
        "dc",
        "<<",
    ]);
    let scalar = prop_oneof![
        Just("~".to_string()),
        Just("true".to_string()),
        Just("2.0".to_string()),
        Just("2.1".to_string()),
        Just("80".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1Gi".to_string()),
        Just("512Mi".to_string()),
        Just("100m".to_string()),
        Just("0.5".to_string()),
        Just("uakt".to_string()),
        Just("ip".to_string()),
        Just("ram".to_string()),
        Just("/data".to_string()),
        Just("1e400".to_string()),
        Just("18446744073709551616".to_string()),
        "[a-zA-Z0-9 ./_-]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    if depth == 0 {
        return scalar.boxed();
    }
    prop_oneof![
        3 => scalar,
        2 => prop::collection::vec((keys, yaml_value(depth - 1)), 0..5).prop_map(|entries| {
            let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
            format!("{{{}}}", body.join(", "))
        }),
        1 => prop::collection::vec(yaml_value(depth - 1), 0..4)
            .prop_map(|items| format!("[{}]", items.join(", "))),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,400}") {
        let _ = kumo_sdl::parse(&src);
    }

    #[test]
    fn arbitrary_yaml_never_panics(doc in yaml_value(6)) {
        let _ = kumo_sdl::parse(&doc);
    }

    #[test]
    fn whole_cores_and_millicores_round_trip(m in 0u32..=u32::MAX, cores in 0u32..=4_000_000) {
        prop_assert_eq!(units::parse_cpu(&format!("{m}m")), Ok(u64::from(m)));
        prop_assert_eq!(units::parse_cpu(&cores.to_string()), Ok(u64::from(cores) * 1000));
    }

    #[test]
    fn integer_sizes_round_trip_with_every_suffix(n in 0u64..(1 << 20)) {
        let suffixes: [(&str, u64); 8] = [
            ("k", 1000), ("Ki", KI), ("M", 1_000_000), ("Mi", MI),
            ("G", 1_000_000_000), ("Gi", GI), ("T", 1_000_000_000_000), ("Ti", TI),
        ];
        for (suffix, unit) in suffixes {
            let text = format!("{n}{suffix}");
            prop_assert_eq!(units::parse_size(&text, false), Ok(n * unit));
            // Both of Akash's readings agree on whole numbers.
            prop_assert_eq!(units::parse_size_reference(&text), Some(n * unit));
        }
        prop_assert_eq!(units::parse_size(&n.to_string(), false), Ok(n));
    }

    #[test]
    fn gpu_ram_prints_back_to_what_it_parses(gib in 0u64..(1 << 24)) {
        let text = units::gibibytes(gib * GI);
        prop_assert_eq!(units::parse_size(&text, true), Ok(gib * GI));
    }

    #[test]
    fn decimal_prices_round_trip(whole in 0u64..10_000_000_000, frac in 0u64..1_000_000) {
        let text = format!("{whole}.{frac:06}");
        let dec = units::parse_dec(&text).unwrap();
        let expected: cosmwasm_std::Decimal256 = text.parse().unwrap();
        prop_assert_eq!(dec, expected);
    }
}

/// Every corpus file with one line deleted, or one line duplicated: a parse either succeeds or
/// fails, never panics.
#[test]
fn mutated_corpus_files_never_panic() {
    let dir = common::shared_sdl().join("corpus");
    for file in common::list(&dir).into_iter().step_by(7) {
        let src = common::read(&file);
        let lines: Vec<&str> = src.lines().collect();
        for i in (0..lines.len()).step_by(3) {
            let mut deleted = lines.clone();
            deleted.remove(i);
            let _ = kumo_sdl::parse(&deleted.join("\n"));
            let mut duplicated = lines.clone();
            duplicated.insert(i, lines[i]);
            let _ = kumo_sdl::parse(&duplicated.join("\n"));
        }
    }
}
