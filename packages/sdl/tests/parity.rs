//! Akash's own SDL parity fixtures (`shared/sdl/parity`): every valid case yields the manifest
//! and group specs Akash's Go implementation produced; every invalid case is rejected.

mod common;

use serde_json::{json, Value};

/// Our group specs in the JSON form of Akash's `GroupSpec` (`group-specs.json`).
fn akash_group_specs(groups: &[kumo::GroupSpec]) -> Value {
    let attrs = |list: &[kumo::Attribute]| -> Value {
        list.iter()
            .map(|a| json!({"key": a.key, "value": a.value}))
            .collect()
    };
    let opt_attrs = |map: &mut serde_json::Map<String, Value>, list: &[kumo::Attribute]| {
        if !list.is_empty() {
            map.insert("attributes".into(), attrs(list));
        }
    };
    Value::Array(
        groups
            .iter()
            .map(|g| {
                let resources: Vec<Value> = g
                    .resources
                    .iter()
                    .map(|u| {
                        let r = &u.resources;
                        let mut cpu = serde_json::Map::new();
                        cpu.insert("units".into(), json!({"val": r.cpu.units.to_string()}));
                        opt_attrs(&mut cpu, &r.cpu.attributes);
                        let mut gpu = serde_json::Map::new();
                        gpu.insert("units".into(), json!({"val": r.gpu.units.to_string()}));
                        opt_attrs(&mut gpu, &r.gpu.attributes);
                        let storage: Vec<Value> = r
                            .storage
                            .iter()
                            .map(|s| {
                                let mut m = serde_json::Map::new();
                                m.insert("name".into(), json!(s.name));
                                m.insert("size".into(), json!({"val": s.size.to_string()}));
                                opt_attrs(&mut m, &s.attributes);
                                Value::Object(m)
                            })
                            .collect();
                        let endpoints: Vec<Value> = r
                            .endpoints
                            .iter()
                            .map(|e| {
                                let k = e.kind.as_proto();
                                if k == 0 {
                                    json!({"sequence_number": e.sequence_number})
                                } else {
                                    json!({"kind": k, "sequence_number": e.sequence_number})
                                }
                            })
                            .collect();
                        json!({
                            "resource": {
                                "id": r.id,
                                "cpu": cpu,
                                "memory": {"size": {"val": r.memory.size.to_string()}},
                                "storage": storage,
                                "gpu": gpu,
                                "endpoints": endpoints,
                            },
                            "count": u.count,
                            "price": {
                                "denom": u.price.denom,
                                // Akash prints LegacyDec with 18 decimals.
                                "amount": format!("{:.18}", u.price.amount.to_string().parse::<f64>().unwrap()),
                            },
                        })
                    })
                    .collect();
                json!({
                    "name": g.name,
                    "requirements": {
                        "signed_by": {
                            "all_of": g.requirements.signed_by.all_of,
                            "any_of": g.requirements.signed_by.any_of,
                        },
                        "attributes": attrs(&g.requirements.attributes),
                    },
                    "resources": resources,
                })
            })
            .collect(),
    )
}

/// Go marshals nil slices as null; the fixtures were produced from Go values.
fn normalize_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if (k == "all_of" || k == "any_of" || k == "attributes") && val.is_null() {
                    *val = json!([]);
                }
                normalize_nulls(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_nulls),
        _ => {}
    }
}

#[test]
fn valid_parity_cases_match_akash_fixtures() {
    let root = common::shared_sdl().join("parity");
    let mut cases = 0;
    for version in ["v2.0", "v2.1"] {
        for case in common::list(&root.join("input").join(version)) {
            let name = case.file_name().unwrap().to_string_lossy().to_string();
            let src = common::read(&case.join("input.yaml"));
            let fixtures = root.join("output-fixtures").join(version).join(&name);
            let sdl = kumo_sdl::parse(&src).unwrap_or_else(|e| panic!("{version}/{name}: {e}"));

            let expected: Value =
                serde_json::from_str(&common::read(&fixtures.join("manifest.json"))).unwrap();
            let actual = serde_json::to_value(&sdl.manifest).unwrap();
            assert_eq!(actual, expected, "{version}/{name}: manifest differs");

            let mut expected: Value =
                serde_json::from_str(&common::read(&fixtures.join("group-specs.json"))).unwrap();
            normalize_nulls(&mut expected);
            let actual = akash_group_specs(&sdl.groups);
            assert_eq!(actual, expected, "{version}/{name}: group specs differ");
            cases += 1;
        }
    }
    assert_eq!(cases, 15, "expected the 15 valid parity cases");
}

#[test]
fn invalid_parity_cases_are_rejected() {
    let dir = common::shared_sdl().join("parity/input/invalid");
    let files = common::list(&dir);
    assert_eq!(files.len(), 21);
    for file in files {
        let result = kumo_sdl::parse(&common::read(&file));
        assert!(
            result.is_err(),
            "{} was accepted",
            file.file_name().unwrap().to_string_lossy()
        );
        println!(
            "{}: {}",
            file.file_name().unwrap().to_string_lossy(),
            result.unwrap_err()
        );
    }
}
