//! Bearer tokens and the config files that hold them: a token too short to
//! resist guessing, or copied from an example, is refused when the config is
//! read; so is a file holding tokens that others on the machine may read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The fewest characters a bearer token may have (24 hex characters are
/// 96 random bits; `poshuk` itself makes 64).
pub const MIN_TOKEN_CHARS: usize = 24;

/// Checks a bearer token from a config (`what` names its field): long
/// enough, not a placeholder from the examples, not one character repeated.
pub fn check_bearer_token(what: &str, token: &str) -> Result<(), String> {
    let lower = token.to_ascii_lowercase();
    if [
        "change-me",
        "changeme",
        "change_me",
        "placeholder",
        "example",
    ]
    .iter()
    .any(|placeholder| lower.contains(placeholder))
    {
        return Err(format!(
            "{what} is the example's placeholder: put a long random token there (e.g. `openssl rand -hex 32`)"
        ));
    }
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!(
            "{what} must have at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"
        ));
    }
    let mut distinct: Vec<char> = token.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 6 {
        return Err(format!(
            "{what} has fewer than 6 distinct characters: it is not random"
        ));
    }
    Ok(())
}

/// A config's parse error as said to its reader: where (line, column) and
/// what, without the line itself. The parser's excerpt would repeat a
/// token's line on the terminal, in logs and in CI output.
pub fn config_error_at(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return message.trim().to_string();
    };
    let before = &text.as_bytes()[..span.start.min(text.len())];
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let column = before
        .iter()
        .rev()
        .take_while(|&&byte| byte != b'\n')
        .count()
        + 1;
    // The key the line sets (a field's name is no secret; its value may be).
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|line| line.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    match key {
        Some(key) => format!("line {line}, column {column} ({key}): {}", message.trim()),
        None => format!("line {line}, column {column}: {}", message.trim()),
    }
}

/// Refuses a file holding secrets (`what`) that group or others may read.
pub fn check_private_file(path: &Path, what: &str) -> Result<(), String> {
    let mode = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} holds {what} and others may read it (mode {mode:o}): `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_placeholder_tokens_are_refused() {
        assert!(check_bearer_token("token", "3f1c9a6b2e7d4058a1c3e9f7b2d46a80").is_ok());
        for weak in [
            "x",
            "change-me-ngo-ua-0000000000000000",
            "CHANGEME-0123456789abcdef0123",
            "000000000000000000000000000000",
            "short-but-random",
        ] {
            assert!(check_bearer_token("token", weak).is_err(), "{weak}");
        }
    }

    #[test]
    fn a_config_others_may_read_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "x").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = check_private_file(&path, "bearer tokens").expect_err("refused");
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(check_private_file(&path, "bearer tokens").is_ok());
    }
}
