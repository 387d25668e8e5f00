//! The object store the log is published to: a small trait ([`Bucket`]) with
//! an S3 implementation ([`S3Bucket`]: SigV4-presigned requests made with
//! `rusty-s3`, sent with reqwest) and an in-memory one for tests.

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use rusty_s3::{Credentials, S3Action as _, UrlStyle};

use super::PublishError;

/// The largest object read back (an entry bundle is at most 256 entries of
/// 64 KiB).
const MAX_OBJECT: usize = 256 * 65_538;
/// How long a presigned request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// One object to write.
#[derive(Clone, Debug)]
pub struct Object<'a> {
    /// Its path in the layout (without the bucket's key prefix).
    pub path: &'a str,
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its `Cache-Control`.
    pub cache_control: &'static str,
}

/// What a create-only write found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// The object did not exist and now holds the bytes.
    New,
    /// An object was there already (`412`); these are its bytes.
    Existing(Vec<u8>),
}

/// The operations the publisher needs from an object store (spec/
/// checkpoints-and-tiles.md §9.3 says what the store must guarantee).
pub trait Bucket: Send + Sync + 'static {
    /// The object at `path`, or `None` if there is none.
    fn get(&self, path: &str)
    -> impl Future<Output = Result<Option<Vec<u8>>, PublishError>> + Send;
    /// Writes `object` only if no object is at its path (`If-None-Match: *`).
    fn create(
        &self,
        object: Object<'_>,
    ) -> impl Future<Output = Result<Created, PublishError>> + Send;
    /// Writes `object`, replacing any object at its path.
    fn put(&self, object: Object<'_>) -> impl Future<Output = Result<(), PublishError>> + Send;
    /// The paths of the objects whose path starts with `prefix`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, PublishError>> + Send;
    /// Deletes the object at `path` (no error if there is none).
    fn delete(&self, path: &str) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// Where and how to reach an S3-compatible bucket.
#[derive(Clone)]
pub struct S3Config {
    /// The endpoint, e.g. `https://s3.eu-central-1.amazonaws.com`.
    pub endpoint: reqwest::Url,
    /// The bucket's name.
    pub bucket: String,
    /// The region the requests are signed for.
    pub region: String,
    /// Virtual-hosted-style URLs (`bucket.endpoint/key`) instead of path style
    /// (`endpoint/bucket/key`).
    pub virtual_host: bool,
    /// A key prefix inside the bucket: empty, or ending in `/`.
    pub prefix: String,
    /// The access key id and secret.
    pub credentials: (String, String),
    /// The time limit of one request.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("virtual_host", &self.virtual_host)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.credentials.0)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Garage, Ceph RGW, SeaweedFS).
pub struct S3Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    prefix: String,
    client: reqwest::Client,
}

impl S3Bucket {
    /// A client for the bucket of `config`.
    ///
    /// # Errors
    /// [`PublishError::Settings`] for an endpoint rusty-s3 does not take, or an
    /// HTTP client that cannot be built.
    pub fn new(config: &S3Config) -> Result<S3Bucket, PublishError> {
        let style = if config.virtual_host {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = rusty_s3::Bucket::new(
            config.endpoint.clone(),
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| PublishError::Settings(format!("publish_endpoint: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("ledger-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PublishError::Settings(format!("the HTTP client: {e}")))?;
        Ok(S3Bucket {
            bucket,
            credentials: Credentials::new(
                config.credentials.0.clone(),
                config.credentials.1.clone(),
            ),
            prefix: config.prefix.clone(),
            client,
        })
    }

    fn key(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    async fn send(
        &self,
        op: &'static str,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), PublishError> {
        let failed = |reason: String| PublishError::Bucket {
            op,
            path: path.to_owned(),
            reason,
        };
        let mut resp = request.send().await.map_err(|e| failed(e.to_string()))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| failed(e.to_string()))? {
            if body.len() + chunk.len() > MAX_OBJECT {
                return Err(failed(format!("an answer larger than {MAX_OBJECT} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn unexpected(op: &'static str, path: &str, status: StatusCode, body: &[u8]) -> PublishError {
        PublishError::Bucket {
            op,
            path: path.to_owned(),
            reason: format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)]).trim()
            ),
        }
    }

    fn upload(&self, object: &Object<'_>) -> reqwest::RequestBuilder {
        let key = self.key(object.path);
        let url = self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        self.client
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, object.content_type)
            .header(reqwest::header::CACHE_CONTROL, object.cache_control)
            .body(object.body.clone())
    }
}

impl Bucket for S3Bucket {
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, PublishError> {
        let key = self.key(path);
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        match self.send("GET", path, self.client.get(url)).await? {
            (StatusCode::OK, body) => Ok(Some(body)),
            (StatusCode::NOT_FOUND, _) => Ok(None),
            (status, body) => Err(Self::unexpected("GET", path, status, &body)),
        }
    }

    async fn create(&self, object: Object<'_>) -> Result<Created, PublishError> {
        let request = self
            .upload(&object)
            .header(reqwest::header::IF_NONE_MATCH, "*");
        match self.send("PUT", object.path, request).await? {
            (s, _) if s.is_success() => Ok(Created::New),
            (StatusCode::PRECONDITION_FAILED, _) => match self.get(object.path).await? {
                Some(existing) => Ok(Created::Existing(existing)),
                None => Err(PublishError::Bucket {
                    op: "PUT",
                    path: object.path.to_owned(),
                    reason: "412 for a create-only write, yet no object is there".into(),
                }),
            },
            (status, body) => Err(Self::unexpected("PUT", object.path, status, &body)),
        }
    }

    async fn put(&self, object: Object<'_>) -> Result<(), PublishError> {
        match self.send("PUT", object.path, self.upload(&object)).await? {
            (s, _) if s.is_success() => Ok(()),
            (status, body) => Err(Self::unexpected("PUT", object.path, status, &body)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError> {
        let key = self.key(prefix);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(key.as_str());
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let body = match self.send("LIST", prefix, self.client.get(url)).await? {
                (StatusCode::OK, body) => body,
                (status, body) => return Err(Self::unexpected("LIST", prefix, status, &body)),
            };
            let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&body).map_err(|e| {
                PublishError::Bucket {
                    op: "LIST",
                    path: prefix.to_owned(),
                    reason: format!("an answer that does not parse: {e}"),
                }
            })?;
            out.extend(
                parsed
                    .contents
                    .into_iter()
                    .filter_map(|c| c.key.strip_prefix(&self.prefix).map(str::to_owned)),
            );
            match parsed.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    async fn delete(&self, path: &str) -> Result<(), PublishError> {
        let key = self.key(path);
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        match self.send("DELETE", path, self.client.delete(url)).await? {
            (s, _) if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            (status, body) => Err(Self::unexpected("DELETE", path, status, &body)),
        }
    }
}
