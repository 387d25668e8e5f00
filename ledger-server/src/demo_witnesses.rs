//! The demo's two local witnesses (issue #12 item 5): `ledger-server demo` runs
//! `ledger-verify witness serve` twice, as "audit-board" and "press-council",
//! and publishes only checkpoints both cosigned (a 2-of-2 policy written to
//! `DATA/witness-policy.txt`, which `ledger-verify --policy` reads too).
//!
//! The witnesses are separate processes of the verifier's binary, as real ones
//! are separate parties: the server shares no code or state with them. Each
//! keeps its key and state under `DATA/witnesses/`, so a resumed demo resumes
//! their history too. Each is started with `--exit-on-stdin-eof` and a stdin
//! pipe this process holds, so it stops when the demo stops, however it stops.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// The demo witnesses' names (note key names, c2sp.org/signed-note).
pub const DEMO_WITNESSES: [&str; 2] = ["audit-board.demo.example", "press-council.demo.example"];

/// The demo's policy file, in the data directory.
pub const POLICY_FILE: &str = "witness-policy.txt";

/// How long a witness may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One running demo witness.
pub struct DemoWitness {
    /// Its name.
    pub name: String,
    /// Its cosignature verifier key.
    pub vkey: String,
    /// Its URL prefix (c2sp.org/tlog-witness).
    pub url: String,
    child: Child,
    /// Held open: the witness stops when it is closed.
    _stdin: ChildStdin,
}

impl Drop for DemoWitness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo's running witnesses and the policy naming them.
pub struct DemoWitnesses {
    /// The witnesses, in [`DEMO_WITNESSES`] order.
    pub witnesses: Vec<DemoWitness>,
    /// The policy file written for them.
    pub policy: PathBuf,
}

/// The `ledger-verify` binary next to this one (where cargo builds both).
///
/// # Errors
/// If this binary's path is unknown.
pub fn sibling_verifier() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating ledger-server's binary")?;
    Ok(exe.with_file_name("ledger-verify"))
}

/// Starts the demo witnesses for the log `log_vkey` with `verifier` (the
/// `ledger-verify` binary), creating their keys on first use, and writes the
/// 2-of-2 policy (spec/witness-policy.md) to `data/witness-policy.txt`.
///
/// # Errors
/// If a key cannot be made, a witness does not start, or the policy cannot be
/// written.
pub fn start(data: &Path, log_vkey: &str, verifier: &Path) -> Result<DemoWitnesses> {
    let dir = data.join("witnesses");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut witnesses = Vec::new();
    for name in DEMO_WITNESSES {
        let key = dir.join(format!("{name}.key"));
        if !key.exists() {
            keygen(verifier, name, &key)?;
        }
        witnesses.push(spawn(verifier, name, &key, &dir.join(name), log_vkey)?);
    }
    let policy = data.join(POLICY_FILE);
    write_policy(&policy, log_vkey, &witnesses)?;
    Ok(DemoWitnesses { witnesses, policy })
}

fn keygen(verifier: &Path, name: &str, key: &Path) -> Result<()> {
    let out = Command::new(verifier)
        .args(["witness", "keygen", "--name", name, "--out"])
        .arg(key)
        .output()
        .with_context(|| format!("running {}", verifier.display()))?;
    if !out.status.success() {
        bail!(
            "`ledger-verify witness keygen` for {name} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts one witness on a free loopback port and waits for the line in which
/// it announces its key and address: `witness NAME (VKEY) listening on URL`.
fn spawn(
    verifier: &Path,
    name: &str,
    key: &Path,
    state: &Path,
    log_vkey: &str,
) -> Result<DemoWitness> {
    let mut child = Command::new(verifier)
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--exit-on-stdin-eof",
        ])
        .args(["--log", log_vkey])
        .arg("--key")
        .arg(key)
        .arg("--data")
        .arg(state)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the witness {name}"))?;
    let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin pipe"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("no stderr pipe"))?;
    let (tx, rx) = mpsc::channel();
    let tag = name.split('.').next().unwrap_or(name).to_owned();
    std::thread::spawn(move || {
        let mut announced = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !announced && line.starts_with("witness ") && line.contains(" listening on ") {
                announced = true;
                let _ = tx.send(line);
            } else {
                // The witness's own log, labelled, after the demo's.
                let _ = writeln!(std::io::stderr(), "[witness {tag}] {line}");
            }
        }
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            bail!("the witness {name} did not start (exit: {status:?}); see its log above");
        }
    };
    let (vkey, url) = parse_announcement(&line)
        .ok_or_else(|| anyhow!("the witness {name} announced {line:?}"))?;
    Ok(DemoWitness {
        name: name.to_owned(),
        vkey,
        url,
        child,
        _stdin: stdin,
    })
}

/// `witness NAME (VKEY) listening on URL` → (VKEY, URL).
fn parse_announcement(line: &str) -> Option<(String, String)> {
    let (head, url) = line.split_once(") listening on ")?;
    let (_, vkey) = head.split_once(" (")?;
    Some((vkey.to_owned(), url.trim().to_owned()))
}

/// The policy: the log, both witnesses with their URLs, both required.
fn policy_text(log_vkey: &str, witnesses: &[DemoWitness]) -> String {
    let mut p = String::from(
        "# The demo's witness policy (c2sp.org/tlog-policy; spec/witness-policy.md):\n\
         # a checkpoint counts only if the log signed it and both witnesses cosigned it.\n\
         # Written by `ledger-server demo` at each start (the witnesses' ports change).\n",
    );
    p.push_str(&format!("log {log_vkey}\n"));
    for w in witnesses {
        p.push_str(&format!("witness {} {} {}\n", w.name, w.vkey, w.url));
    }
    let names: Vec<&str> = witnesses.iter().map(|w| w.name.as_str()).collect();
    p.push_str(&format!("group demo-witnesses all {}\n", names.join(" ")));
    p.push_str("quorum demo-witnesses\n");
    p
}

fn write_policy(path: &Path, log_vkey: &str, witnesses: &[DemoWitness]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, policy_text(log_vkey, witnesses))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_witness_announcement() {
        let line = "witness audit-board.demo.example (audit-board.demo.example+1234abcd+BA==) listening on http://127.0.0.1:40123";
        assert_eq!(
            parse_announcement(line),
            Some((
                "audit-board.demo.example+1234abcd+BA==".to_owned(),
                "http://127.0.0.1:40123".to_owned()
            ))
        );
        assert_eq!(parse_announcement("witness x listening"), None);
    }
}
