//! The JSON bodies of the server's API (spec/api.md) that this client sends and
//! reads. Fields the client does not need are ignored when reading, so that the
//! server may add fields without breaking it; what it sends has exactly the
//! documented fields (the server rejects unknown ones).

use serde::{Deserialize, Serialize};

/// One entry to append: the body of `POST /v1/entries` (spec/api.md §3.1) and
/// an element of a batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    /// Base64 of the exact statement bytes.
    pub statement: String,
    /// Base64 of the 64-byte signature.
    pub signature: String,
    /// Base64 of the private payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Hex of the payload's 32-byte salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// The body of `POST /v1/entries/batch` (spec/api.md §3.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchRequest {
    /// The entries, sequenced in this order.
    pub entries: Vec<EntryRequest>,
}

/// A successful append (spec/api.md §3.1): new (201) or a duplicate of an earlier
/// identical submission (200).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash, hex.
    pub leaf_hash: String,
    /// When it was sequenced, Unix milliseconds.
    pub sequenced_at_ms: u64,
    /// Whether this was a resubmission of an entry already in the log.
    pub duplicate: bool,
    /// With `?wait=checkpoint`: the receipt text (spec/receipts.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// With `?wait=checkpoint`: the size of the checkpoint in the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
}

/// The machine-readable part of an error answer (spec/api.md §1.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// The stable error code, such as `key_not_active`.
    pub code: String,
    /// A message for people.
    pub message: String,
}

/// An error answer: `{"error":{"code","message"}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// One result of a batch: a success or an error object (spec/api.md §3.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchResult {
    /// The entry was rejected; the others were not affected.
    Rejected(ErrorBody),
    /// The entry was appended (or was a duplicate).
    Appended(Appended),
}

/// The answer to a batch: one result per entry, in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The results.
    pub results: Vec<BatchResult>,
}

/// `GET /v1/log` (spec/api.md §4.1): the log's public parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogInfo {
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key string.
    pub vkey: String,
    /// The registry authority's public key, base64.
    #[serde(default)]
    pub authority_key: Option<String>,
    /// The number of entries.
    #[serde(default)]
    pub size: Option<u64>,
    /// The size of the latest checkpoint.
    #[serde(default)]
    pub checkpoint_size: Option<u64>,
}

/// The answer to `POST /v1/payloads/read` (spec/api.md): the access entry that
/// records the read, and the payload with its salt.
#[derive(Clone, Serialize, Deserialize)]
pub struct ReadAnswer {
    /// The access entry, as an append answers it.
    pub access: Appended,
    /// The entry whose payload this is.
    pub entry: u64,
    /// Base64 of the payload (personal data).
    pub payload: String,
    /// Hex of the commitment's salt.
    pub salt: String,
    /// Hex of the entry's payload commitment.
    pub commitment: String,
}

impl std::fmt::Debug for ReadAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload and salt are personal data: never print them.
        f.debug_struct("ReadAnswer")
            .field("access", &self.access)
            .field("entry", &self.entry)
            .field("commitment", &self.commitment)
            .finish_non_exhaustive()
    }
}

/// The parts of `GET /v1/entries/{index}` (spec/api.md §4.2) the client reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryInfo {
    /// The entry's index.
    pub index: u64,
    /// Base64 of the entry envelope.
    pub entry_b64: String,
    /// Whether the entry has a payload commitment whose payload was not erased.
    #[serde(default)]
    pub has_payload: Option<bool>,
    /// The entry that erased its payload, if any.
    #[serde(default)]
    pub payload_erased_by: Option<u64>,
}
