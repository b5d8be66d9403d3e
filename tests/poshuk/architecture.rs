//! The crate graph keeps the promise "the coordinator holds no hashing key":
//! neither the coordinator nor the wire protocol (nor what the protocol
//! depends on) may depend on the tokenizer (`poshuk-core`) or the keyring
//! (`poshuk-keys`).

use std::path::Path;

/// The `poshuk-*` crates a crate's manifest depends on (any section).
fn project_dependencies(krate: &str) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    text.lines()
        .filter_map(|line| line.split(['=', '.', ' ']).next())
        .filter(|name| name.starts_with("poshuk-") && *name != krate)
        .map(str::to_string)
        .collect()
}

#[test]
fn neither_the_coordinator_nor_the_protocol_can_make_a_token() {
    let mut pending = vec!["poshuk-coordinator".to_string()];
    let mut reached = Vec::new();
    while let Some(krate) = pending.pop() {
        for dependency in project_dependencies(&krate) {
            if !reached.contains(&dependency) {
                reached.push(dependency.clone());
                pending.push(dependency);
            }
        }
    }
    assert!(
        reached.contains(&"poshuk-protocol".to_string()),
        "{reached:?}"
    );
    for forbidden in ["poshuk-core", "poshuk-keys", "poshuk-node"] {
        assert!(
            !reached.iter().any(|name| name == forbidden),
            "the coordinator reaches {forbidden}: {reached:?}"
        );
    }
}
