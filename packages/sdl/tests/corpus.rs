//! The real-world corpus (`shared/sdl/corpus`, 357 `deploy.yaml` files from awesome-akash) against
//! what Akash's reference implementation says of each (`corpus-expected.jsonl`).

mod common;

use serde_json::Value;

struct Expected {
    manifest: Value,
    file: String,
    ok: bool,
    version: Option<String>,
}

fn expected() -> Vec<Expected> {
    let path = common::shared_sdl().join("corpus-expected.jsonl");
    common::read(&path)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Expected {
                manifest: v["manifest"].clone(),
                file: v["file"].as_str().unwrap().to_string(),
                ok: v["ok"].as_bool().unwrap(),
                version: v["version"].as_str().map(str::to_string),
            }
        })
        .collect()
}

#[test]
fn every_file_the_reference_accepts_has_the_same_manifest_version() {
    let dir = common::shared_sdl().join("corpus");
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in expected().iter().filter(|e| e.ok) {
        let src = common::read(&dir.join(&e.file));
        match kumo_sdl::parse(&src) {
            Ok(sdl) => {
                if Some(sdl.version_hex()) != e.version {
                    let ours = serde_json::to_value(&sdl.manifest).unwrap();
                    failures.push(format!(
                        "{}: version differs: {}",
                        e.file,
                        first_difference(&ours, &e.manifest, String::new())
                    ));
                }
            }
            Err(err) => failures.push(format!("{}: rejected: {err}", e.file)),
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, 309);
}

/// What Kumo does with a file Akash's reference SDK rejects: what Akash's Go parser (its CLI and
/// provider) does, except where noted.
enum Decision {
    /// Accepted; each listed text appears in a warning.
    Accept(&'static [&'static str]),
    /// Rejected with an error containing this text.
    Reject(&'static str),
}

use Decision::{Accept, Reject};

/// Every corpus file the reference rejects, by category.
const REJECTED_BY_REFERENCE: &[(&str, Decision)] = &[
    // Unknown keys inside services, exposes or placements (docker-compose habits, typos):
    // Akash's Go parser ignores them; Kumo does too, and says so.
    (
        "Redash__Redash_Queries__deploy.yaml",
        Accept(&["services.postgres.volumes: unknown key"]),
    ),
    (
        "Redash__deploy.yaml",
        Accept(&["services.postgres.restart: unknown key"]),
    ),
    (
        "big-dipper__deploy.yaml",
        Accept(&["services.web.depends-on: unknown key"]),
    ),
    (
        "botpress__deploy.yaml",
        Accept(&["services.botpress.depends_on: unknown key"]),
    ),
    (
        "chatchat__deploy.yaml",
        Accept(&["services.chatchat.depends_on: unknown key"]),
    ),
    (
        "discourse__deploy.yml",
        Accept(&["services.sidekiq.depends_on: unknown key"]),
    ),
    (
        "langflow__deploy.yaml",
        Accept(&["profiles.storage: unknown key", "services.langflow.volumes"]),
    ),
    (
        "matomo__deploy.yaml",
        Accept(&["services.db.expose[0].to[0].servcie: unknown key"]),
    ),
    (
        "odoo__deploy.yml",
        Accept(&["services.odoo.depends_on: unknown key"]),
    ),
    (
        "open-gpt__deploy.yaml",
        Accept(&["services.opengpt.depends_on: unknown key"]),
    ),
    (
        "open-webui-cpu__deploy.yaml",
        Accept(&["services.open-webui.depends_on: unknown key"]),
    ),
    (
        "open-webui-gpu__deploy.yaml",
        Accept(&["services.open-webui.depends_on: unknown key"]),
    ),
    (
        "packetstream__deploy.yaml",
        Accept(&["profiles.placement.akash.placement: unknown key"]),
    ),
    (
        "phoronix__deploy.yaml",
        Accept(&["services.phoronix.environment: unknown key"]),
    ),
    (
        "postgres-restore__deploy.yaml",
        Accept(&["services.cron.depends_on: unknown key"]),
    ),
    (
        "prysm-beacon__deploy.yaml",
        Accept(&["profiles.placement.akash.placement: unknown key"]),
    ),
    (
        "qbittorrent__deploy-ssh-tunnel.yaml",
        Accept(&["services.ssh.depends_on: unknown key"]),
    ),
    (
        "redmine__deploy.yaml",
        Accept(&["services.redmine.depends-on: unknown key"]),
    ),
    (
        "snake-game__deploy.yaml",
        Accept(&["services.snake.depends_on: unknown key"]),
    ),
    (
        "supabase__deploy.yaml",
        Accept(&["services.api.depends_on: unknown key"]),
    ),
    (
        "tensorflow-webapp-mnist__deploy.yaml",
        Accept(&["services.web.depends-on: unknown key"]),
    ),
    (
        "waku__deploy.yaml",
        Accept(&["services.node.depends_on: unknown key"]),
    ),
    (
        "whoogle-search__deploy-ssh-tunnel.yaml",
        Accept(&["services.ssh.depends_on: unknown key"]),
    ),
    (
        "wordpress__deploy.yaml",
        Accept(&["services.wordpress.depends_on: unknown key"]),
    ),
    // An empty value where the reference's schema wants an object or a list (placement
    // `attributes:`, `accept:` with every entry commented out): null is "not set" in Go.
    ("Llama-2-70B__deploy.yaml", Accept(&[])),
    ("bitcoin__deploy.yml", Accept(&[])),
    ("dolly-v2-12b__deploy.yaml", Accept(&[])),
    ("faster-whisper-cpu__deploy.yaml", Accept(&[])),
    ("faster-whisper-gpu__deploy.yaml", Accept(&[])),
    ("flan-t5-xxl__deploy.yaml", Accept(&[])),
    ("gpt-neo__deploy.yaml", Accept(&[])),
    ("gpustack-worker__deploy.yaml", Accept(&[])),
    ("gpustack__deploy.yaml", Accept(&[])),
    (
        "persistent-storage-performance-testing__deploy.yaml",
        Accept(&[]),
    ),
    ("privategpt-cpu__deploy.yaml", Accept(&[])),
    ("privategpt-gpu__deploy.yaml", Accept(&[])),
    ("redpajama-incite-7b-instruct__deploy.yaml", Accept(&[])),
    ("semantra__deploy.yaml", Accept(&[])),
    ("whisper-gui-cpu__deploy.yaml", Accept(&[])),
    ("osmosis-fe__deploy.yaml", Accept(&[])),
    // `params.tee`, which the reference release predates and Akash's Go parser supports.
    ("ollama-tee__deploy.yaml", Accept(&[])),
    // Rejected by Akash's Go parser too.
    (
        "teamspeak__deploy.yaml",
        Reject("YAML syntax error at line 2"),
    ),
    (
        "minio__deploy.yml",
        Reject("services.minio.expose[0].to: expected a sequence, found mapping"),
    ),
    (
        "Venice-ElizaOS__deploy.yml",
        Reject("profiles.compute.service-1.resources.cpu.units"),
    ),
    (
        "codex__deploy.yml",
        Reject("max_body_size 1073741824 is above the maximum of 104857600"),
    ),
    (
        "pokt-network__deploy.yml",
        Reject("deployment: the deployment section places no service"),
    ),
    (
        "steamcmd__deploy.yaml",
        Reject("services.steamcmd.expose[0].port: port 0 is out of range"),
    ),
    // A persistent volume nothing mounts: Akash's Go parser lets it through in v2.0 when the
    // service mounts another volume (its per-service attribute map is shared); Kumo checks each
    // volume, as the reference does.
    (
        "axolotlai__deploy.yaml",
        Reject("volume \"default\" is persistent, so service \"axolotl-trainer\" must mount it"),
    ),
];

#[test]
fn files_the_reference_rejects_follow_akash_go_by_category() {
    let dir = common::shared_sdl().join("corpus");
    let rejected: Vec<String> = expected()
        .into_iter()
        .filter(|e| !e.ok)
        .map(|e| e.file)
        .collect();
    let mut pinned: Vec<&str> = REJECTED_BY_REFERENCE.iter().map(|(f, _)| *f).collect();
    pinned.sort_unstable();
    let mut listed: Vec<&str> = rejected.iter().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        pinned, listed,
        "every file the reference rejects has a pinned decision"
    );

    for (file, decision) in REJECTED_BY_REFERENCE {
        let result = kumo_sdl::parse(&common::read(&dir.join(file)));
        match (decision, result) {
            (Accept(needles), Ok(sdl)) => {
                let warnings: Vec<String> = sdl.warnings.iter().map(|w| w.to_string()).collect();
                for needle in *needles {
                    assert!(
                        warnings.iter().any(|w| w.contains(needle)),
                        "{file}: no warning contains {needle:?}; warnings: {warnings:#?}"
                    );
                }
            }
            (Reject(needle), Err(err)) => {
                assert!(err.to_string().contains(needle), "{file}: {err}");
            }
            (Accept(_), Err(err)) => panic!("{file} should be accepted: {err}"),
            (Reject(_), Ok(_)) => panic!("{file} should be rejected"),
        }
    }
}

/// Akash's "schema only" invalid fixtures: its Go parser accepts them, and so does Kumo, except
/// an unknown GPU vendor, which Go silently turns into "any NVIDIA GPU".
#[test]
fn schema_only_invalid_fixtures() {
    let dir = common::shared_sdl().join("parity/input/schema-only-invalid");
    for file in common::list(&dir) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let result = kumo_sdl::parse(&common::read(&file));
        match name.as_str() {
            "invalid-gpu-vendor.yaml" => {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("unsupported GPU vendor \"amd\""), "{err}");
            }
            "invalid-version.yaml" => {
                let sdl = result.unwrap();
                assert_eq!(sdl.version, kumo_sdl::Version::V2_1);
                assert!(sdl.warnings.iter().any(|w| w.message.contains("2.1 rules")));
            }
            _ => {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

/// The first place two JSON values differ, for a readable failure.
fn first_difference(a: &Value, b: &Value, path: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) if va != vb => {
                        return first_difference(va, vb, format!("{path}.{k}"))
                    }
                    (Some(va), None) => {
                        return format!("{path}.{k}: ours {va}, reference has none")
                    }
                    (None, Some(vb)) => {
                        return format!("{path}.{k}: reference {vb}, ours has none")
                    }
                    _ => {}
                }
            }
            format!("{path}: equal as values (byte encoding differs)")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    return first_difference(va, vb, format!("{path}[{i}]"));
                }
            }
            format!("{path}: equal as values (byte encoding differs)")
        }
        _ => format!("{path}: ours {a}, reference {b}"),
    }
}
