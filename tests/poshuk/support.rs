//! Running the binary and making input files.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use poshuk_node::NodeConfig;

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

/// The per-user directory where nodes note where their local credentials
/// are (`POSHUK_STATE_DIR`): one for the whole test run, so that the
/// command line finds the credentials of the nodes the tests start, as it
/// does for a partner running its own node, without touching `$HOME`.
pub(crate) fn state_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("state dir"))
        .path()
}

/// How a test presents itself to a server, as its owner would.
#[derive(Clone)]
pub(crate) enum Credential {
    /// The local API's bearer token.
    Bearer(String),
    /// Signed requests (the federation API): key id and secret.
    Signed(String, String),
}

/// The credentials of the servers the tests started, by base URL: the
/// helpers below present them as the server's owner would.
fn credentials() -> &'static std::sync::Mutex<Vec<(String, Credential)>> {
    static CREDENTIALS: std::sync::OnceLock<std::sync::Mutex<Vec<(String, Credential)>>> =
        std::sync::OnceLock::new();
    CREDENTIALS.get_or_init(Default::default)
}

/// Writes a config that holds bearer tokens, mode 0600 (servers refuse
/// such a config that others may read).
pub(crate) fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write config");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// Registers the credential the server at `base` wants.
pub(crate) fn remember_credential(base: &str, credential: Credential) {
    if let Ok(mut known) = credentials().lock() {
        known.retain(|(url, _)| url != base);
        known.push((base.to_string(), credential));
    }
}

/// The credential registered for the server `url` belongs to.
pub(crate) fn credential_for(url: &str) -> Option<Credential> {
    let known = credentials().lock().ok()?;
    known
        .iter()
        .filter(|(base, _)| url.starts_with(base.as_str()))
        .max_by_key(|(base, _)| base.len())
        .map(|(_, credential)| credential.clone())
}

/// The `Authorization` value for a request with `credential`.
pub(crate) fn authorization(
    credential: &Credential,
    method: &str,
    url: &str,
    body: &[u8],
) -> String {
    match credential {
        Credential::Bearer(token) => format!("Bearer {token}"),
        Credential::Signed(key_id, secret) => {
            let url = reqwest::Url::parse(url).expect("a URL");
            let path = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_string(),
            };
            poshuk_protocol::signed::sign(
                key_id,
                secret.as_bytes(),
                method,
                &path,
                body,
                poshuk_protocol::signed::now_ms(),
            )
            .expect("signs")
        }
    }
}

/// Writes the synthetic partners' lists (`data/ngo_ua.csv`, ...) of
/// `persons` persons under `dir`, the seed chosen by the test.
pub(crate) fn synth_data(dir: &Path, persons: usize, seed: u64) {
    let run = poshuk(
        dir,
        &[
            "synth",
            "--persons",
            &persons.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
            "data",
        ],
    );
    assert!(run.success, "synth: {}", run.stderr);
}

/// Runs `poshuk` with arguments in a working directory.
pub(crate) fn poshuk(dir: &Path, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(args)
        .current_dir(dir)
        .env("POSHUK_LOG", "debug")
        .env("POSHUK_STATE_DIR", state_dir())
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

/// Starts `poshuk` as a server and reads the `listening ...` line it prints
/// on standard output once its listeners are bound; the words after
/// `listening` are returned. Panics with the log's tail if the process exits
/// first (a config error, an address in use).
pub(crate) fn spawn_server(dir: &Path, args: &[&str], log: &Path) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(args)
        .current_dir(dir)
        .env("POSHUK_LOG", "info")
        .env("POSHUK_STATE_DIR", state_dir())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("log file"),
        )
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(read.map(|_| line));
    });
    // A generous bound, not a timing: a server that has not bound its port
    // in a minute is hung, and the test says so instead of hanging too.
    let line = receiver
        .recv_timeout(std::time::Duration::from_secs(60))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if words.first().map(String::as_str) != Some("listening") {
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        panic!("`poshuk {}` did not start: {tail:?}", args.join(" "));
    }
    (child, words[1..].to_vec())
}

/// A node process started from a config in a working directory; killed on drop.
pub(crate) struct NodeProcess {
    pub(crate) child: std::process::Child,
    pub(crate) federation: String,
    pub(crate) local: String,
    pub(crate) config: PathBuf,
    settings: NodeConfig,
}

impl NodeProcess {
    /// Writes a node config into `dir` and starts the node.
    pub(crate) fn start(dir: &Path, partner: &str) -> NodeProcess {
        NodeProcess::start_with(dir, partner, &|_| {})
    }

    /// Starts a node whose config `configure` completes (a coordinator to
    /// join, an admin key to pin).
    pub(crate) fn start_with(
        dir: &Path,
        partner: &str,
        configure: &dyn Fn(&mut NodeConfig),
    ) -> NodeProcess {
        NodeProcess::start_with_keyring(dir, partner, "keyring.toml", configure)
    }

    /// Starts a node and loads its partner's list (`data/{file}.csv`, as
    /// `poshuk synth` writes it) through `poshuk ingest`.
    pub(crate) fn start_loaded(
        dir: &Path,
        partner: &str,
        file: &str,
        configure: &dyn Fn(&mut NodeConfig),
    ) -> NodeProcess {
        let node = NodeProcess::start_with(dir, partner, configure);
        let run = poshuk(
            dir,
            &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
        );
        assert!(run.success, "ingest into {partner}: {}", run.stderr);
        node
    }

    /// Starts a node with its own keyring file (in `dir`), both APIs on port 0;
    /// the config is then written again with the ports the node bound, so
    /// that a restart keeps the addresses the coordinator knows. Configs are
    /// written by serializing the node's config type.
    pub(crate) fn start_with_keyring(
        dir: &Path,
        partner: &str,
        keyring: &str,
        configure: &dyn Fn(&mut NodeConfig),
    ) -> NodeProcess {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = NodeConfig::new(
            partner,
            format!("{partner}-data"),
            keyring,
            any_port,
            any_port,
        );
        config.plain_http_on_loopback = true;
        config.limits.max_body_bytes = 2_000_000;
        config.limits.commit_every_records = 2000;
        config.limits.commit_interval_ms = 500;
        config.federation.token = Some(format!("federation-token-of-{partner}-for-tests"));
        configure(&mut config);
        let path = dir.join(format!("{partner}.toml"));
        write_private(&path, &config.to_toml());
        let (child, federation, local) = spawn_node(dir, &path);
        let address = |url: &str| -> SocketAddr {
            url.split("://")
                .nth(1)
                .unwrap_or(url)
                .parse()
                .expect("an address")
        };
        // An outbound node has no federation address to keep.
        config.listen.federation =
            (federation != poshuk_node::OUTBOUND).then(|| address(&federation));
        config.listen.local = address(&local);
        write_private(&path, &config.to_toml());
        remember_node(
            &local,
            &federation,
            &dir.join(&config.data_dir),
            config.federation.token.as_deref(),
        );
        NodeProcess {
            child,
            federation,
            local,
            config: path,
            settings: config,
        }
    }

    /// Starts the same node again (after a kill), on the same addresses.
    pub(crate) fn restart(&mut self, dir: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, federation, local) = spawn_node(dir, &self.config);
        assert_eq!((&federation, &local), (&self.federation, &self.local));
        self.child = child;
    }

    /// Changes the node's config and restarts it on the same addresses:
    /// how a node started before the coordinator (whose address no one
    /// knows until it binds port 0) learns where the coordinator is.
    pub(crate) fn reconfigure(&mut self, dir: &Path, configure: &dyn Fn(&mut NodeConfig)) {
        configure(&mut self.settings);
        write_private(&self.config, &self.settings.to_toml());
        self.restart(dir);
    }

    /// Kills the node with SIGKILL.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Searches the node's own records (`POST /local/v1/search`) and returns
    /// each hit with the case id its handle resolves to, best first.
    pub(crate) fn search_own(&self, record: serde_json::Value) -> Vec<(String, serde_json::Value)> {
        let (status, body) = post_json(
            &format!("{}/local/v1/search", self.local),
            &serde_json::json!({ "record": record }),
        );
        assert_eq!(status, 200, "{body}");
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|hit| {
                let handle = hit["handle"].as_str().expect("handle");
                let (status, resolved) =
                    get_json(&format!("{}/local/v1/resolve/{handle}", self.local));
                assert_eq!(status, 200, "{resolved}");
                let record_id = resolved["record_id"].as_str().expect("case id");
                (record_id.to_string(), hit.clone())
            })
            .collect()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a node; returns it with its federation and local URLs.
fn spawn_node(dir: &Path, config: &Path) -> (Child, String, String) {
    let config = config.to_string_lossy();
    let (child, words) = spawn_server(dir, &["node", "--config", &config], &dir.join("node.log"));
    let url = |key: &str| {
        words
            .iter()
            .find_map(|word| word.strip_prefix(key))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {key} in {words:?}"))
    };
    (child, url("federation="), url("local="))
}

/// Posts JSON as the server's owner (its registered credential) and returns
/// (status, body as JSON).
pub(crate) fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    post_json_with(url, credential_for(url).as_ref(), body)
}

/// Posts JSON with the given bearer token, or none.
pub(crate) fn post_json_as(
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let credential = token.map(|token| Credential::Bearer(token.to_string()));
    post_json_with(url, credential.as_ref(), body)
}

/// Posts JSON with the given credential, or none.
pub(crate) fn post_json_with(
    url: &str,
    credential: Option<&Credential>,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let bytes = serde_json::to_vec(body).expect("JSON");
    let mut request = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json");
    if let Some(credential) = credential {
        request = request.header(
            "authorization",
            authorization(credential, "POST", url, &bytes),
        );
    }
    answer(request.body(bytes))
}

fn answer(request: reqwest::blocking::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A GET as the server's owner.
fn owner_get(url: &str) -> reqwest::blocking::RequestBuilder {
    let mut request = reqwest::blocking::Client::new().get(url);
    if let Some(credential) = credential_for(url) {
        request = request.header("authorization", authorization(&credential, "GET", url, b""));
    }
    request
}

/// Gets JSON as the server's owner.
pub(crate) fn get_json(url: &str) -> (u16, serde_json::Value) {
    answer(owner_get(url))
}

/// Gets text as the server's owner (metrics).
pub(crate) fn get_text(url: &str) -> String {
    owner_get(url)
        .send()
        .and_then(|response| response.text())
        .expect("an answer")
}

/// Registers a node's local admin credential (from its data directory)
/// for its local URL, and its federation token for its federation URL.
pub(crate) fn remember_node(local: &str, federation: &str, data_dir: &Path, token: Option<&str>) {
    let admin = std::fs::read_to_string(
        data_dir.join(poshuk_protocol::local_credentials::ADMIN_TOKEN_FILE),
    )
    .expect("the node made its local credential");
    remember_credential(local, Credential::Bearer(admin.trim().to_string()));
    if let Some(token) = token {
        let key_id = poshuk_protocol::signed::COORDINATOR_KEY_ID.to_string();
        remember_credential(federation, Credential::Signed(key_id, token.to_string()));
    }
}

/// Each partner's age identity (`poshuk keys identity --config ID.toml`),
/// made now: its public key by partner id.
pub(crate) fn public_keys(
    dir: &Path,
    partners: &[&str],
) -> std::collections::HashMap<String, String> {
    partners
        .iter()
        .map(|id| {
            let run = poshuk(
                dir,
                &["keys", "identity", "--config", &format!("{id}.toml")],
            );
            assert!(run.success, "{}", run.stderr);
            (id.to_string(), run.stdout.trim().to_string())
        })
        .collect()
}

/// Adds a staff account through `poshuk staff add`, the password from the
/// environment.
pub(crate) fn add_staff(dir: &Path, node: &str, name: &str, password: &str) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(["staff", "add", name, "--node", node])
        .current_dir(dir)
        .env("POSHUK_STATE_DIR", state_dir())
        .env("POSHUK_STAFF_PASSWORD", password)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
