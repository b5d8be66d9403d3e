//! The crate graph keeps the promise "the coordinator holds no hashing key":
//! neither the coordinator nor anything it depends on (the wire protocol,
//! the token record, TLS) may depend on the tokenizer (`poshuk-core`), the
//! keyring (`poshuk-keys`) or the node.

use std::path::Path;

/// The project crates a crate's manifest names in any table of normal or
/// build dependencies (also `[target.*.dependencies]` and
/// `[dependencies.NAME]`), by package name (`package = ...` honoured).
fn project_dependencies(krate: &str) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let manifest: toml::Table = text.parse().expect("a TOML manifest");
    let mut tables: Vec<&toml::Table> = Vec::new();
    for section in ["dependencies", "build-dependencies"] {
        tables.extend(manifest.get(section).and_then(toml::Value::as_table));
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for target in targets.values().filter_map(toml::Value::as_table) {
            for section in ["dependencies", "build-dependencies"] {
                tables.extend(target.get(section).and_then(toml::Value::as_table));
            }
        }
    }
    let mut names = Vec::new();
    for table in tables {
        for (key, value) in table {
            let package = value
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key);
            if package.starts_with("poshuk-") {
                names.push(package.to_string());
            }
        }
    }
    names
}

/// Every project crate `krate` depends on, directly or not.
fn reached_from(krate: &str) -> Vec<String> {
    let mut pending = vec![krate.to_string()];
    let mut reached: Vec<String> = Vec::new();
    while let Some(current) = pending.pop() {
        for dependency in project_dependencies(&current) {
            if !reached.contains(&dependency) {
                reached.push(dependency.clone());
                pending.push(dependency);
            }
        }
    }
    reached
}

#[test]
fn neither_the_coordinator_nor_the_protocol_can_make_a_token() {
    let from_coordinator = reached_from("poshuk-coordinator");
    assert!(
        from_coordinator.contains(&"poshuk-protocol".to_string()),
        "the walk reads the manifests: {from_coordinator:?}"
    );
    for krate in ["poshuk-coordinator", "poshuk-protocol", "poshuk-tokens"] {
        let reached = reached_from(krate);
        for forbidden in ["poshuk-core", "poshuk-keys", "poshuk-node"] {
            assert!(
                !reached.iter().any(|name| name == forbidden),
                "{krate} reaches {forbidden}: {reached:?}"
            );
        }
    }
    // The node does reach them: the walk can see what it forbids.
    assert!(reached_from("poshuk-node").contains(&"poshuk-keys".to_string()));
}
