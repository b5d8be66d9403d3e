//! The `poshuk` child processes that the demo and the benchmarks start: nodes,
//! a coordinator, ingests. Started from this same executable; stopped with
//! SIGTERM (then SIGKILL) when the owner is dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// Running children, stopped on drop.
#[derive(Default)]
pub(crate) struct Processes(Vec<Child>);

impl Processes {
    /// Starts `poshuk ARGS` in `dir`, its standard error in `dir/LOG`, and
    /// waits until `ready` (a URL whose `/livez` must answer) if given.
    /// Returns the child's process id.
    pub(crate) fn start(
        &mut self,
        dir: &Path,
        args: &[&str],
        log: &str,
        ready: Option<&str>,
    ) -> anyhow::Result<u32> {
        let child = Command::new(std::env::current_exe()?)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(log))?)
            .spawn()
            .with_context(|| format!("cannot start `poshuk {}`", args.join(" ")))?;
        let pid = child.id();
        self.0.push(child);
        if let Some(url) = ready {
            wait_until_live(url).with_context(|| {
                format!(
                    "`poshuk {}` did not start; see {}",
                    args.join(" "),
                    dir.join(log).display()
                )
            })?;
        }
        Ok(pid)
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        for child in &mut self.0 {
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until_live(url: &str) -> anyhow::Result<()> {
    let client = poshuk_tls::blocking_client_builder(None)?.build()?;
    for _ in 0..600 {
        if client
            .get(format!("{url}{}", poshuk_protocol::routes::LIVEZ))
            .send()
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("no answer from {url}/livez")
}

/// Writes a config holding bearer tokens, readable by this user alone
/// (also when the file was there before with looser permissions).
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs `poshuk ingest --node LOCAL FILE` to completion.
pub(crate) fn ingest(
    dir: &Path,
    local: &str,
    file: &Path,
    show_progress: bool,
) -> anyhow::Result<()> {
    let status = Command::new(std::env::current_exe()?)
        .args(["ingest", "--node", local])
        .arg(file)
        .current_dir(dir)
        .stderr(if show_progress {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .status()?;
    if !status.success() {
        bail!("ingest of {} into {local} failed", file.display());
    }
    Ok(())
}

/// A free TCP port on loopback (bound and released).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
