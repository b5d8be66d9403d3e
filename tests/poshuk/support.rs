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

/// A free TCP port on loopback (bound and released; good enough for tests).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A node process started from a config in a working directory; killed on drop.
pub(crate) struct NodeProcess {
    pub(crate) child: std::process::Child,
    pub(crate) federation: String,
    pub(crate) local: String,
    pub(crate) config: PathBuf,
}

impl NodeProcess {
    /// Writes a node config into `dir` and starts the node.
    pub(crate) fn start(dir: &Path, partner: &str) -> NodeProcess {
        NodeProcess::start_with(dir, partner, free_port(), "")
    }

    /// Starts a node on a given federation port, with extra config text
    /// (a `[coordinator]` section, say).
    pub(crate) fn start_with(
        dir: &Path,
        partner: &str,
        federation_port: u16,
        extra: &str,
    ) -> NodeProcess {
        NodeProcess::start_with_keyring(dir, partner, federation_port, "keyring.toml", extra)
    }

    /// Starts a node with its own keyring file (in `dir`).
    pub(crate) fn start_with_keyring(
        dir: &Path,
        partner: &str,
        federation_port: u16,
        keyring: &str,
        extra: &str,
    ) -> NodeProcess {
        let local_port = free_port();
        let config = dir.join(format!("{partner}.toml"));
        std::fs::write(
            &config,
            format!(
                "partner_id = \"{partner}\"\ndata_dir = \"{partner}-data\"\nkeyring = \"{keyring}\"\n\
                 [listen]\nfederation = \"127.0.0.1:{federation_port}\"\nlocal = \"127.0.0.1:{local_port}\"\n\
                 [limits]\nmax_body_bytes = 2000000\ncommit_every_records = 2000\ncommit_interval_ms = 500\n{extra}"
            ),
        )
        .expect("write node config");
        let mut node = NodeProcess {
            child: spawn_node(dir, &config),
            federation: format!("http://127.0.0.1:{federation_port}"),
            local: format!("http://127.0.0.1:{local_port}"),
            config,
        };
        node.wait_ready();
        node
    }

    /// Starts the same node again (after a kill).
    pub(crate) fn restart(&mut self, dir: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_node(dir, &self.config);
        self.wait_ready();
    }

    /// Kills the node with SIGKILL.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_ready(&mut self) {
        let client = reqwest::blocking::Client::new();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("node exited early with {status}");
            }
            if client
                .get(format!("{}/livez", self.federation))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("node did not become ready");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_node(dir: &Path, config: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(["node", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("POSHUK_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("node.log"))
                .expect("log file"),
        )
        .spawn()
        .expect("node starts")
}

/// Posts JSON and returns (status, body as JSON).
pub(crate) fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::Client::new()
        .post(url)
        .json(body)
        .send()
        .expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Gets JSON.
pub(crate) fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::get(url).expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
