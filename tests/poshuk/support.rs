//! Running the binary and making input files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The result of one run of `poshuk`.
pub(crate) struct Run {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `poshuk` with arguments in a working directory.
pub(crate) fn poshuk(dir: &Path, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(args)
        .current_dir(dir)
        .env("POSHUK_LOG", "debug")
        .output()
        .expect("the poshuk binary runs")
        .into()
}

/// A working directory with a fresh keyring in it.
pub(crate) fn workspace_with_keyring() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = poshuk(dir.path(), &["keys", "init", "-o", "keyring.toml"]);
    assert!(run.success, "keys init: {}", run.stderr);
    let keyring = dir.path().join("keyring.toml");
    (dir, keyring)
}

pub(crate) const HEADER: &str = "record_id,given_name,family_name,patronymic,other_names,sex,birth_date,birth_place,document_ids\n";

/// Reads a CSV file into rows of strings (header first).
pub(crate) fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("csv opens");
    reader
        .records()
        .map(|row| row.expect("csv row").iter().map(str::to_string).collect())
        .collect()
}

/// Every file under a directory, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
