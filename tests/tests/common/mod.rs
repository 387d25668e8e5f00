//! Runs the real binaries: finds them next to the test executable, starts the
//! server on a free loopback port (it binds `127.0.0.1:0` and logs the address),
//! and kills it when dropped.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `target/<profile>/<name>`: the test runs from `target/<profile>/deps/`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests through `cargo test --workspace` (scripts/test)",
        path.display()
    );
    path
}

/// Runs a command to completion and returns its stdout, failing on error.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running a binary");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The value after `label` on its line of `text`.
pub fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .trim()
        .to_owned()
}

/// A running server process.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// Everything the server printed on stdout, as lines, until it was ready.
    pub stdout: Vec<String>,
}

impl Server {
    /// Starts `ledger-server <args> --listen 127.0.0.1:0` in `cwd` and waits until
    /// it logs its address and answers /healthz.
    pub fn start(args: &[&str], cwd: &Path) -> Server {
        let mut child = Command::new(binary("ledger-server"))
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ledger-server");
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx2.send((false, line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send((true, line));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut stdout = Vec::new();
        let mut log = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((true, line)) => {
                    if let Some(rest) = line.split(" on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        break format!("http://{addr}");
                    }
                    log.push(line);
                }
                Ok((false, line)) => stdout.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "ledger-server did not start:\nstdout:\n{}\nstderr:\n{}",
                        stdout.join("\n"),
                        log.join("\n")
                    );
                }
            }
        };
        // Output printed just before the address (the demo's guide) may still be
        // in flight on the other pipe.
        let settle = Instant::now() + Duration::from_millis(300);
        while let Ok((is_err, line)) =
            rx.recv_timeout(settle.saturating_duration_since(Instant::now()))
        {
            if !is_err {
                stdout.push(line);
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let s = Server { child, url, stdout };
        s.wait_healthy();
        s
    }

    fn wait_healthy(&self) {
        let client = reqwest::blocking::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send()
                && r.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} never became healthy", self.url);
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "ledger-server exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ledger-server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `ledger-verify witness serve` (spec/witness.md), on a free port.
pub struct WitnessProcess {
    pub child: Child,
    pub url: String,
}

impl WitnessProcess {
    /// Starts a witness trusting `log_vkey`, keeping its state in `data`.
    pub fn start(data: &Path, key: &Path, log_vkey: &str) -> WitnessProcess {
        WitnessProcess::start_on(data, key, log_vkey, "127.0.0.1:0")
    }

    /// As [`WitnessProcess::start`], listening on `listen`.
    pub fn start_on(data: &Path, key: &Path, log_vkey: &str, listen: &str) -> WitnessProcess {
        let mut child = Command::new(binary("ledger-verify"))
            .args(["witness", "serve", "--listen", listen, "--log", log_vkey])
            .arg("--data")
            .arg(data)
            .arg("--key")
            .arg(key)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the witness");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the witness did not start");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break format!("http://{}", rest.trim());
            }
        };
        std::thread::spawn(move || while rx.recv().is_ok() {});
        WitnessProcess { child, url }
    }

    /// SIGKILL.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the directory `from` to `to`, recursively (a data directory, to fork
/// or to damage a copy of it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for e in std::fs::read_dir(from).expect("reading the directory") {
        let e = e.expect("a directory entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("a file type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copying a file");
        }
    }
}

/// A loopback proxy that counts, alters or holds requests (tests of clients).
pub mod proxy;
