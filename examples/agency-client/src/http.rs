//! An async HTTP client for the ledger server (spec/api.md).
//!
//! Every non-2xx answer becomes a [`RequestError::Api`] that keeps the server's
//! stable error `code` and its `message` (spec/api.md §1.1), and, for 429, the
//! `Retry-After` delay. A server that cannot be reached is a
//! [`RequestError::Transport`], and an answer that is not what the API promises is
//! a [`RequestError::BadAnswer`].

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::api::{
    Appended, BatchRequest, BatchResponse, EntryInfo, EntryRequest, ErrorBody, LogInfo, ReadAnswer,
};

/// The default server, also used when `LEDGER_SERVER` is not set.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The largest answer body read, as a guard against a misbehaving server (the
/// largest legitimate one is a batch answer with 1,000 receipts).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug)]
pub enum RequestError {
    /// No answer: the server could not be reached, or the request timed out.
    Transport {
        /// What was requested.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The error object, if the body was the API's error JSON.
        error: Option<crate::api::ApiError>,
        /// The start of the body, if it was not.
        excerpt: String,
        /// With 429: how long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// The server answered 2xx, but not with what the API describes.
    BadAnswer {
        /// What was requested.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl RequestError {
    /// The server's error code (`queue_full`, `key_not_active`, ...), or a code
    /// for the failure class: `transport` or `bad_answer`, or `http_<status>` for an
    /// error answer without the API's JSON.
    pub fn code(&self) -> String {
        match self {
            RequestError::Transport { source, .. } if source.is_timeout() => "timeout".into(),
            RequestError::Transport { .. } => "transport".into(),
            RequestError::Api { error: Some(e), .. } => e.code.clone(),
            RequestError::Api { status, .. } => format!("http_{}", status.as_u16()),
            RequestError::BadAnswer { .. } => "bad_answer".into(),
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            RequestError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Transport { url, source } if source.is_timeout() => {
                write!(f, "no answer from {url} in time")
            }
            RequestError::Transport { url, .. } => write!(
                f,
                "cannot reach the ledger server at {url} (is it running? \
                 set --server or LEDGER_SERVER)"
            ),
            RequestError::Api {
                status,
                error: Some(e),
                ..
            } => write!(
                f,
                "the server refused the request: {} {}: {}",
                status.as_u16(),
                e.code,
                e.message
            ),
            RequestError::Api {
                status, excerpt, ..
            } => {
                write!(f, "the server answered {status}")?;
                if !excerpt.is_empty() {
                    write!(f, ": {excerpt}")?;
                }
                Ok(())
            }
            RequestError::BadAnswer { url, reason } => {
                write!(f, "unexpected answer from {url}: {reason}")
            }
        }
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A client for one ledger server.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

/// Parses a server URL: `http` or `https`, with a host, and no query or fragment.
/// A path, if any, is kept as a prefix of every API path.
///
/// # Errors
/// If the URL is not of that form.
pub fn parse_server_url(server: &str) -> Result<Url> {
    let mut url =
        Url::parse(server).with_context(|| format!("--server {server:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--server {server:?}: the scheme must be http or https");
    }
    if url.host().is_none() {
        bail!("--server {server:?} has no host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("--server {server:?} may not have a query or fragment");
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A `Retry-After` header in seconds (the HTTP-date form is not used by the
/// server, and is treated as absent).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Client {
    /// A client for `server`, with an overall timeout per request.
    ///
    /// # Errors
    /// If the URL is not usable or the HTTP client cannot be built.
    pub fn new(server: &str, timeout: Duration) -> Result<Client> {
        Client::with_pool(server, timeout, 8)
    }

    /// As [`Client::new`], keeping up to `idle_per_host` idle connections (one per
    /// concurrent task of the load generator).
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_pool(server: &str, timeout: Duration, idle_per_host: usize) -> Result<Client> {
        let base = parse_server_url(server)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("agency-client/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(idle_per_host)
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        Ok(Client { http, base })
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of an API path such as `v1/entries` (no leading slash).
    pub fn url(&self, path: &str) -> Url {
        // Joining a relative path without a scheme to a base URL cannot fail.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// Sends a request and reads the whole answer. Non-2xx answers become
    /// [`RequestError::Api`].
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), RequestError> {
        let url = self.url(path);
        let mut req = self.http.request(method, url.clone());
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let transport = |source| RequestError::Transport {
            url: url.to_string(),
            source,
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(RequestError::BadAnswer {
                    url: url.to_string(),
                    reason: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok((status, body));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        Err(RequestError::Api {
            status,
            excerpt: if error.is_some() {
                String::new()
            } else {
                excerpt(&body)
            },
            error,
            retry_after: wait,
        })
    }

    /// Decodes a JSON answer of `path`.
    ///
    /// # Errors
    /// [`RequestError::BadAnswer`] if the body is not the expected JSON.
    pub fn decode<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T, RequestError> {
        serde_json::from_slice(body).map_err(|e| RequestError::BadAnswer {
            url: self.url(path).to_string(),
            reason: format!("not the JSON the API describes: {e}"),
        })
    }

    /// `GET /v1/log`: the log's origin, verifier key and sizes.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn log_info(&self) -> Result<LogInfo, RequestError> {
        let path = "v1/log";
        let (_, body) = self.send(Method::GET, path, None).await?;
        self.decode(path, &body)
    }

    /// `POST /v1/entries`, with `?wait=checkpoint` if `wait`. Returns the decoded
    /// answer and its raw JSON text.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn append(
        &self,
        entry: &EntryRequest,
        wait: bool,
    ) -> Result<(Appended, String), RequestError> {
        let path = if wait {
            "v1/entries?wait=checkpoint"
        } else {
            "v1/entries"
        };
        let body = serde_json::to_vec(entry).map_err(|e| RequestError::BadAnswer {
            url: self.url(path).to_string(),
            reason: format!("cannot serialize the request: {e}"),
        })?;
        let (_, answer) = self.send(Method::POST, path, Some(body)).await?;
        let appended = self.decode(path, &answer)?;
        Ok((appended, String::from_utf8_lossy(&answer).into_owned()))
    }

    /// `POST /v1/entries/batch`.
    ///
    /// # Errors
    /// A [`RequestError`], also if the answer does not have one result per entry.
    pub async fn append_batch(
        &self,
        batch: &BatchRequest,
        wait: bool,
    ) -> Result<BatchResponse, RequestError> {
        let path = if wait {
            "v1/entries/batch?wait=checkpoint"
        } else {
            "v1/entries/batch"
        };
        let body = serde_json::to_vec(batch).map_err(|e| RequestError::BadAnswer {
            url: self.url(path).to_string(),
            reason: format!("cannot serialize the request: {e}"),
        })?;
        let (_, answer) = self.send(Method::POST, path, Some(body)).await?;
        let resp: BatchResponse = self.decode(path, &answer)?;
        if resp.results.len() != batch.entries.len() {
            return Err(RequestError::BadAnswer {
                url: self.url(path).to_string(),
                reason: format!(
                    "{} results for {} entries",
                    resp.results.len(),
                    batch.entries.len()
                ),
            });
        }
        Ok(resp)
    }

    /// `POST /v1/payloads/read`, with `?wait=checkpoint` if `wait`: sequences
    /// the signed `access.payload.read` in `read` (no payload, no salt) and
    /// returns the access entry and the payload.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn read_payload(
        &self,
        read: &EntryRequest,
        wait: bool,
    ) -> Result<ReadAnswer, RequestError> {
        let path = if wait {
            "v1/payloads/read?wait=checkpoint"
        } else {
            "v1/payloads/read"
        };
        let body = serde_json::to_vec(read).map_err(|e| RequestError::BadAnswer {
            url: self.url(path).to_string(),
            reason: format!("cannot serialize the request: {e}"),
        })?;
        let (_, answer) = self.send(Method::POST, path, Some(body)).await?;
        self.decode(path, &answer)
    }

    /// `GET /v1/entries/{index}`.
    ///
    /// # Errors
    /// A [`RequestError`] (404 if the log has no such entry).
    pub async fn entry(&self, index: u64) -> Result<EntryInfo, RequestError> {
        let path = format!("v1/entries/{index}");
        let (_, body) = self.send(Method::GET, &path, None).await?;
        self.decode(&path, &body)
    }

    /// `GET /checkpoint`: the latest signed checkpoint note, verbatim.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn checkpoint(&self) -> Result<Vec<u8>, RequestError> {
        let (_, body) = self.send(Method::GET, "checkpoint", None).await?;
        Ok(body)
    }

    /// `GET /v1/receipts/{index}`: the receipt text, or `None` if no checkpoint
    /// covers the entry yet (404).
    ///
    /// # Errors
    /// A [`RequestError`] other than 404.
    pub async fn receipt(&self, index: u64) -> Result<Option<Vec<u8>>, RequestError> {
        match self
            .send(Method::GET, &format!("v1/receipts/{index}"), None)
            .await
        {
            Ok((_, body)) => Ok(Some(body)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
