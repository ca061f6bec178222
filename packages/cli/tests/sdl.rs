//! `kumo sdl ...` end to end, on Akash's parity fixtures beside the repository.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn shared(rel: &str) -> PathBuf {
    let base = std::env::var_os("KUMO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    base.join("sdl").join(rel)
}

fn kumo() -> Command {
    Command::cargo_bin("kumo").unwrap()
}

const SIMPLE: &str = "parity/input/v2.0/simple/input.yaml";

/// Runs `kumo sdl <cmd> <fixture>`, expects success, returns stdout.
fn sdl_stdout(cmd: &str, fixture: &str) -> Vec<u8> {
    kumo()
        .args(["sdl", cmd])
        .arg(shared(fixture))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

#[test]
fn check_prints_a_summary_and_exits_zero() {
    kumo()
        .args(["sdl", "check"])
        .arg(shared(SIMPLE))
        .assert()
        .success()
        .stdout(predicate::str::contains("ok:"))
        .stdout(predicate::str::contains(
            "SDL 2.0, 1 group(s), 1 service(s)",
        ))
        .stdout(predicate::str::contains("westcoast at most 100 uakt/block"));
}

#[test]
fn check_reports_the_path_of_the_error_and_exits_one() {
    kumo()
        .args(["sdl", "check"])
        .arg(shared("parity/input/invalid/port-zero.yaml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "services.web.expose[0].port: port 0 is out of range 1..=65535",
        ));
}

#[test]
fn check_prints_warnings_for_ignored_keys() {
    kumo()
        .args(["sdl", "check"])
        .arg(shared("corpus/matomo__deploy.yaml"))
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: "))
        .stderr(predicate::str::contains(
            "services.db.expose[0].to[0].servcie: unknown key",
        ));
}

#[test]
fn missing_file_says_what_to_fix() {
    kumo()
        .args(["sdl", "check", "no-such-deploy.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read no-such-deploy.yaml: check the path",
        ));
}

#[test]
fn version_prints_the_manifest_hash_in_hex() {
    let out = sdl_stdout("version", SIMPLE);
    let hex = String::from_utf8(out).unwrap();
    let hex = hex.trim();
    assert_eq!(hex.len(), 64);
    assert!(hex
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
}

#[test]
fn manifest_prints_the_bytes_whose_sha256_is_the_version() {
    use sha2::Digest;
    let manifest = sdl_stdout("manifest", SIMPLE);
    let version = sdl_stdout("version", SIMPLE);
    let bytes = manifest.strip_suffix(b"\n").unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(bytes)),
        String::from_utf8(version).unwrap().trim()
    );
    let parsed: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(parsed[0]["name"], "westcoast");
}

#[test]
fn groups_prints_group_specs_as_json() {
    let out = sdl_stdout("groups", SIMPLE);
    let groups: Vec<kumo::GroupSpec> = serde_json::from_slice(&out).unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].resources[0].resources.cpu.units, 100);
    assert_eq!(groups[0].resources[0].count, 2);
}

#[test]
fn invalid_yaml_is_an_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("kumo-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(&file, "version: '2.0'\nservices: [\n").unwrap();
    let assert = kumo().args(["sdl", "check"]).arg(&file).assert();
    std::fs::remove_dir_all(&dir).unwrap();
    assert
        .code(1)
        .stderr(predicate::str::contains("YAML syntax error"));
}
