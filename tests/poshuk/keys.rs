//! `poshuk keys init` and how the keyring file is guarded.

use std::os::unix::fs::PermissionsExt;

use crate::support::{HEADER, poshuk, workspace_with_keyring};

#[test]
fn keyring_is_private_and_never_overwritten() {
    let (dir, keyring) = workspace_with_keyring();
    let mode = std::fs::metadata(&keyring)
        .expect("keyring exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&keyring).expect("readable");
    assert!(text.contains("number = 1"));

    let again = poshuk(dir.path(), &["keys", "init", "-o", "keyring.toml"]);
    assert!(!again.success);
    assert!(again.stderr.contains("must not exist"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(&keyring).expect("readable"),
        text,
        "keyring unchanged"
    );

    let listed = poshuk(dir.path(), &["keys", "list", "--keyring", "keyring.toml"]);
    assert!(listed.success, "{}", listed.stderr);
    assert!(listed.stdout.contains("epoch 1"));
    let key_hex = text
        .lines()
        .find(|l| l.starts_with("key"))
        .expect("key line");
    let key_value = key_hex.split('"').nth(1).expect("quoted key");
    assert!(!listed.stdout.contains(key_value) && !listed.stderr.contains(key_value));
}

#[test]
fn keyring_readable_by_others_is_refused() {
    let (dir, keyring) = workspace_with_keyring();
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(
        dir.path().join("cases.csv"),
        format!("{HEADER}1,Іван,Мельник,,,M,2010,,\n"),
    )
    .expect("write");
    let run = poshuk(
        dir.path(),
        &[
            "encode",
            "--keyring",
            "keyring.toml",
            "cases.csv",
            "-o",
            "cases.tokens",
        ],
    );
    assert!(!run.success);
    assert!(run.stderr.contains("readable by others"), "{}", run.stderr);
    assert!(!dir.path().join("cases.tokens").exists());
}
