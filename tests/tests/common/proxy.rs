//! A tiny HTTP/1.1 proxy on loopback for GET requests, in front of a server:
//! it records every path asked for, can flip a byte of one path's response
//! (data altered in transit), and can hold requests after the first N until
//! released (to kill a client at a known point). One connection per request
//! (`Connection: close`); bodies are forwarded without content encoding.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Default)]
struct State {
    /// Paths asked for, in order.
    requests: Vec<String>,
    /// Flip the last byte of the response to this path.
    tamper: Option<String>,
    /// Hold every request for a path with this prefix after this many of
    /// them, until released.
    gate: Option<(String, usize)>,
    /// Requests being held.
    held: usize,
}

/// A running proxy; its threads end with the test process.
pub struct Proxy {
    pub url: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let (st, up) = (state.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (st, up, client) = (st.clone(), up.clone(), client.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, &up, &client);
                });
            }
        });
        Proxy { url, state }
    }

    /// Flips the last byte of every response to `path` (no leading `/`).
    pub fn tamper(&self, path: &str) {
        self.state.0.lock().unwrap().tamper = Some(path.to_owned());
    }

    /// Holds every request for a path starting with `prefix` after the first
    /// `n` of them, until [`Proxy::release`].
    pub fn gate_after(&self, prefix: &str, n: usize) {
        self.state.0.lock().unwrap().gate = Some((prefix.to_owned(), n));
    }

    /// Lets held requests through.
    pub fn release(&self) {
        self.state.0.lock().unwrap().gate = None;
        self.state.1.notify_all();
    }

    /// How many requests are being held.
    pub fn held(&self) -> usize {
        self.state.0.lock().unwrap().held
    }

    /// The paths asked for so far (no leading `/`).
    pub fn requests(&self) -> Vec<String> {
        self.state.0.lock().unwrap().requests.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.release();
    }
}

fn serve(
    conn: TcpStream,
    state: &(Mutex<State>, Condvar),
    upstream: &str,
    client: &reqwest::blocking::Client,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let tamper = {
        let (lock, cv) = state;
        let mut s = lock.lock().unwrap();
        s.requests.push(path.clone());
        let hold = |s: &State| {
            s.gate.as_ref().is_some_and(|(prefix, n)| {
                path.starts_with(prefix.as_str())
                    && s.requests
                        .iter()
                        .filter(|p| p.starts_with(prefix.as_str()))
                        .count()
                        > *n
            })
        };
        if hold(&s) {
            s.held += 1;
            while hold(&s) {
                s = cv.wait(s).unwrap();
            }
            s.held -= 1;
        }
        s.tamper.as_deref() == Some(path.as_str())
    };
    let (status, mut body) = match client.get(format!("{upstream}/{path}")).send() {
        Ok(r) => (
            r.status().as_u16(),
            r.bytes().map(|b| b.to_vec()).unwrap_or_default(),
        ),
        Err(_) => (502, Vec::new()),
    };
    if tamper && let Some(last) = body.last_mut() {
        *last ^= 1;
    }
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(&body)?;
    out.flush()
}
