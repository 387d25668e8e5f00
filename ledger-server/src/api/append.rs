//! Appending: `POST /v1/entries` and `POST /v1/entries/batch` (spec/api.md §3),
//! with receipts on `?wait=checkpoint` (spec/receipts.md).

use super::*;
use ledger_core::registry::RegistryError;

/// One signed statement to append (spec/api.md §3.1).
#[derive(Deserialize, Serialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Base64 of the exact statement bytes.
    #[schema(value_type = schema::Base64)]
    pub statement: String,
    /// Base64 of the 64-byte Ed25519 signature.
    #[schema(value_type = schema::Signature)]
    pub signature: String,
    /// Base64 of the private payload.
    #[serde(default)]
    #[schema(value_type = Option<schema::Base64>)]
    pub payload: Option<String>,
    /// Hex of the payload's 32-byte salt.
    #[serde(default)]
    #[schema(value_type = Option<schema::Hex32>)]
    pub salt: Option<String>,
}

/// A durable append (spec/api.md §3.1).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct AppendResponse {
    /// The entry's index.
    pub index: u64,
    /// Hex of the entry's leaf hash.
    #[schema(value_type = schema::Hex32)]
    pub leaf_hash: String,
    /// When it was sequenced (Unix ms).
    pub sequenced_at_ms: u64,
    /// Whether the statement was already in the log.
    pub duplicate: bool,
    /// With `?wait=checkpoint`: the receipt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// With a receipt: the size of the checkpoint it is under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
}

/// A batch of statements (spec/api.md §3.2).
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 1,000 statements (by default, spec/api.md §1.2), sequenced in order.
    #[schema(value_type = Vec<schema::BatchEntry>)]
    pub entries: Vec<AppendRequest>,
}

/// Parses a [`BatchRequest`], counting entries as they are parsed: past `max`
/// it stops with `too_large`, so that a body of many tiny objects is not parsed
/// in full before the count is checked (#14 item 7; spec/api.md §1.2).
pub(super) fn parse_batch(bytes: &[u8], max: usize) -> ApiResult<BatchRequest> {
    use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;

    struct Bounded {
        max: usize,
        over: Cell<bool>,
    }
    struct Entries<'a>(&'a Bounded);
    impl<'de> DeserializeSeed<'de> for Entries<'_> {
        type Value = Vec<AppendRequest>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Entries<'_> {
        type Value = Vec<AppendRequest>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of append requests")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(e) = seq.next_element::<AppendRequest>()? {
                if out.len() == self.0.max {
                    self.0.over.set(true);
                    return Err(A::Error::custom("too many entries"));
                }
                out.push(e);
            }
            Ok(out)
        }
    }
    impl<'de> DeserializeSeed<'de> for &Bounded {
        type Value = BatchRequest;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for &Bounded {
        type Value = BatchRequest;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object with `entries`")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match key.as_ref() {
                    "entries" if entries.is_none() => {
                        entries = Some(map.next_value_seed(Entries(self))?);
                    }
                    "entries" => return Err(A::Error::duplicate_field("entries")),
                    other => return Err(A::Error::unknown_field(other, &["entries"])),
                }
            }
            let entries = entries.ok_or_else(|| A::Error::missing_field("entries"))?;
            Ok(BatchRequest { entries })
        }
    }

    let bounded = Bounded {
        max,
        over: Cell::new(false),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = (&bounded)
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|()| r));
    match parsed {
        Ok(r) => Ok(r),
        Err(_) if bounded.over.get() => Err(ApiError::too_large(format!(
            "a batch is limited to {max} entries"
        ))),
        Err(e) => Err(ApiError::bad("bad_json", format!("request body: {e}"))),
    }
}

/// One result of a batch: a success or an error.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum BatchResult {
    /// Appended (or already there).
    Ok(AppendResponse),
    /// Rejected.
    Err(ErrorBody),
}

/// The results of a batch, in order.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct BatchResponse {
    /// One per submitted entry.
    pub results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AppendQuery {
    wait: Option<String>,
}

/// Checks and decodes one append request (everything but the signature and the
/// registry rules, which the sequencer checks).
pub(super) fn submission(req: AppendRequest, limits: &Limits) -> ApiResult<Submission> {
    let b64 = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .ok()
            .filter(|b| STANDARD.encode(b) == v)
            .ok_or_else(|| {
                ApiError::bad("bad_encoding", format!("{field} must be canonical base64"))
            })
    };
    // Cheap size checks before decoding (base64 is 4/3 of the bytes).
    if req.statement.len() > limits.max_statement.div_ceil(3) * 4 {
        return Err(ApiError::too_large(format!(
            "statements are limited to {} bytes",
            limits.max_statement
        )));
    }
    let statement = b64("statement", &req.statement)?;
    if statement.len() > limits.max_statement {
        return Err(ApiError::too_large(format!(
            "statements are limited to {} bytes",
            limits.max_statement
        )));
    }
    let signature: [u8; 64] = b64("signature", &req.signature)?
        .try_into()
        .map_err(|_| ApiError::bad("bad_encoding", "signature must be 64 bytes"))?;
    let statement = Statement::parse(&statement)
        .map_err(|e| ApiError::bad("bad_statement", format!("statement: {e}")))?;
    let payload = match (req.payload, req.salt) {
        (None, None) => None,
        (Some(p), Some(salt)) => {
            if p.len() > limits.max_payload.div_ceil(3) * 4 {
                return Err(ApiError::too_large(format!(
                    "payloads are limited to {} bytes",
                    limits.max_payload
                )));
            }
            let payload = b64("payload", &p)?;
            if payload.len() > limits.max_payload {
                return Err(ApiError::too_large(format!(
                    "payloads are limited to {} bytes",
                    limits.max_payload
                )));
            }
            let salt: [u8; SALT_BYTES] = hex::decode(&salt)
                .ok()
                .filter(|_| salt.bytes().all(|c| !c.is_ascii_uppercase()))
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ApiError::bad("bad_encoding", "salt must be 64 lowercase hex digits")
                })?;
            let Some(commitment) = statement.payload_commitment else {
                return Err(ApiError::bad(
                    "bad_payload",
                    "a payload was sent but the statement has no payload_commitment",
                ));
            };
            if !commitment.opens(&salt, &payload) {
                return Err(ApiError::bad(
                    "bad_payload",
                    "the payload and salt do not open the statement's payload_commitment",
                ));
            }
            Some((salt, payload))
        }
        _ => {
            return Err(ApiError::bad(
                "bad_payload",
                "payload and salt must be sent together",
            ));
        }
    };
    Ok(Submission {
        statement,
        signature,
        payload,
        verified_by: None,
    })
}

/// Verifies the submissions' signatures on the rayon pool (all cores, off the
/// async threads and off the sequencer's thread, so that verification of the next
/// requests overlaps the sequencer's commits), against the keys active as of the
/// stored tree; the sequencer re-checks that the key is still active when it
/// sequences the entry (spec/api.md §3.1).
///
/// A submission that no active key verifies is refused here, so that junk never
/// reaches the single writer thread (#14 item 7): with `unknown_agency`,
/// `key_not_active` (a revoked key verifies it) or `bad_signature`. Before
/// refusing, it is checked once more if the registry changed meanwhile (a key
/// added by a request sequenced since). Two kinds go on unverified, for the
/// sequencer to answer: a resubmission of a used submission id (answered from the
/// log without a signature check, as a duplicate or a conflict), and a
/// submission after a registry statement in the same request (a key the batch
/// itself adds).
pub(super) async fn verify_signatures(
    s: &AppState,
    subs: Vec<Submission>,
) -> ApiResult<Vec<Result<Submission, ApiError>>> {
    let state = s.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(check_signatures(&state, subs));
    });
    rx.await.map_err(|_| ApiError::internal())
}

/// The keys that may sign for `agency` in `agencies` (the authority's for the
/// registry), and whether the agency is known.
fn active_keys(
    s: &AppState,
    agencies: &Agencies,
    agency: &AgencyId,
) -> (Vec<ed25519_dalek::VerifyingKey>, bool) {
    if agency.is_registry() {
        return (s.authority.into_iter().collect(), true);
    }
    match agencies.binary_search_by(|a| a.id.cmp(agency)) {
        Ok(i) => (agencies[i].active_keys().map(|k| k.key).collect(), true),
        Err(_) => (Vec::new(), false),
    }
}

/// [`verify_signatures`]'s work, on a rayon thread.
fn check_signatures(s: &AppState, mut subs: Vec<Submission>) -> Vec<Result<Submission, ApiError>> {
    let snapshot = agency_list(s);
    let verify = |subs: &mut [Submission], agencies: &Agencies| {
        subs.par_iter_mut().for_each(|sub| {
            if sub.verified_by.is_none() {
                let (keys, _) = active_keys(s, agencies, &sub.statement.agency);
                sub.verified_by = keys
                    .into_iter()
                    .find(|k| verify_statement_signature(k, sub.statement.bytes(), &sub.signature));
            }
        });
    };
    verify(&mut subs, &snapshot);
    let mut latest = snapshot;
    if subs.iter().any(|x| x.verified_by.is_none()) {
        let now = agency_list(s);
        if !Arc::ptr_eq(&now, &latest) {
            verify(&mut subs, &now);
            latest = now;
        }
    }
    let mut registry_before = false;
    subs.into_iter()
        .map(|sub| {
            let after_registry = registry_before;
            registry_before |= sub.statement.agency.is_registry();
            if sub.verified_by.is_some() || after_registry {
                return Ok(sub);
            }
            let st = &sub.statement;
            match s.db.dedup(st.agency.as_str(), st.submission_id.as_str()) {
                Ok(Some(_)) => return Ok(sub),
                Ok(None) => {}
                Err(e) => return Err(ApiError::from(e)),
            }
            Err(refusal(s, &latest, &sub))
        })
        .collect()
}

/// Why no active key verifies `sub`: its agency is unknown, a revoked key of it
/// verifies the signature (a key problem, 403), or the signature is bad (401).
fn refusal(s: &AppState, agencies: &Agencies, sub: &Submission) -> ApiError {
    let st = &sub.statement;
    let index = stored_size(s);
    let (keys, known) = active_keys(s, agencies, &st.agency);
    let rejected = if !known {
        RegistryError::UnknownAgency {
            index,
            agency: st.agency.to_string(),
        }
    } else if let Some(old) = agencies
        .binary_search_by(|a| a.id.cmp(&st.agency))
        .ok()
        .and_then(|i| {
            agencies[i].keys.iter().find(|k| {
                k.revoked_at.is_some()
                    && verify_statement_signature(&k.key, st.bytes(), &sub.signature)
            })
        })
    {
        RegistryError::KeyNotActive {
            index,
            agency: st.agency.to_string(),
            key_hash: old.key_hash.0,
        }
    } else {
        RegistryError::BadSignature {
            index,
            key_hash: keys
                .first()
                .map(|k| ledger_core::entry::KeyHash::of(k).0)
                .unwrap_or_default(),
        }
    };
    ApiError::from(AppendError::Rejected(rejected))
}

/// Reads go through `POST /v1/payloads/read`, which releases the payload once
/// the access entry is durable (spec/api.md §5.2).
pub(super) fn not_a_read(sub: &Submission) -> ApiResult<()> {
    if sub.statement.kind.as_str() == ledger_core::access::TYPE_PAYLOAD_READ {
        return Err(ApiError::bad(
            "bad_request",
            "access.payload.read statements are submitted to POST /v1/payloads/read",
        ));
    }
    Ok(())
}

pub(super) fn wants_receipt(uri: &Uri) -> ApiResult<bool> {
    let q: AppendQuery = query(uri)?;
    match q.wait.as_deref() {
        None => Ok(false),
        Some("checkpoint") => Ok(true),
        Some(_) => Err(ApiError::bad(
            "bad_request",
            "wait takes only the value \"checkpoint\"",
        )),
    }
}

pub(super) fn response(a: &Appended) -> AppendResponse {
    AppendResponse {
        index: a.index,
        leaf_hash: a.leaf_hash.to_hex(),
        sequenced_at_ms: a.sequenced_at_ms,
        duplicate: a.duplicate,
        receipt: None,
        checkpoint_size: None,
    }
}

pub(super) async fn sequence(
    s: &AppState,
    subs: Vec<Submission>,
) -> ApiResult<Vec<Result<Appended, AppendError>>> {
    let rx = s.sequencer.submit(subs).map_err(|e| match e {
        QueueError::Full => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            "the sequencer's queue is full; retry after the Retry-After seconds",
        ),
        QueueError::AgencyShareFull => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            "this agency's share of the sequencer's queue is full; retry after the Retry-After seconds",
        ),
        QueueError::Stopped => sequencer_stopped(),
    })?;
    rx.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down, or its sequencer stopped",
        )
    })
}

/// One submission through [`verify_signatures`] and [`sequence`]: the entry
/// appended (or found), or why not.
pub(super) async fn append_one(s: &AppState, sub: Submission) -> ApiResult<Appended> {
    let sub = verify_signatures(s, vec![sub])
        .await?
        .pop()
        .unwrap_or_else(|| Err(ApiError::internal()))?;
    Ok(sequence(s, vec![sub])
        .await?
        .pop()
        .unwrap_or(Err(AppendError::Unavailable))?)
}

pub(super) fn sequencer_stopped() -> ApiError {
    tracing::error!("the sequencer has stopped: appends are refused until a restart");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the sequencer has stopped; nothing can be appended until the server restarts",
    )
}

/// Waits for a checkpoint covering `max_index`; `None` if none came in time.
pub(super) async fn covering_checkpoint(s: &AppState, max_index: u64) -> Option<Published> {
    let mut rx = s.published.clone();
    let got = tokio::time::timeout(s.limits.receipt_wait, rx.wait_for(|p| p.size > max_index))
        .await
        .ok()?
        .ok()?
        .clone();
    Some(got)
}

/// The receipt of entry `index` under `cp` (spec/receipts.md): form 2, with the
/// signer's public key, found by the entry's key hash among the authority's
/// and its agency's keys (current or revoked); form 1 if none matches.
pub(super) fn build_receipt(s: &AppState, index: u64, cp: &Published) -> ApiResult<String> {
    let db = &s.db;
    let envelope = db
        .entry(index)?
        .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    let proof =
        prove_inclusion(LeafIndex(index), TreeSize(cp.size), &db.hash_reader()).map_err(|e| {
            tracing::error!("inclusion proof for {index} at {}: {e}", cp.size);
            ApiError::unavailable()
        })?;
    let (index, path, note) = (LeafIndex(index), proof.path, cp.note.to_vec());
    let receipt = match signer_of(s, &envelope) {
        Some(key) => Receipt::new_signed(envelope, key, index, path, note),
        None => Receipt::new(envelope, index, path, note),
    };
    String::from_utf8(receipt.encode()).map_err(|_| ApiError::internal())
}

/// The public key whose hash the entry names: the authority's, or one of its
/// agency's keys, current or revoked.
fn signer_of(s: &AppState, envelope: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
    let entry = Entry::decode(envelope).ok()?;
    let hash = entry.key_hash;
    let named = |k: &ed25519_dalek::VerifyingKey| ledger_core::entry::KeyHash::of(k) == hash;
    if let Some(a) = s.authority.filter(named) {
        return Some(a);
    }
    let agency = Statement::parse(&entry.statement).ok()?.agency;
    let agencies = agency_list(s);
    let i = agencies.binary_search_by(|a| a.id.cmp(&agency)).ok()?;
    agencies[i].keys.iter().map(|k| k.key).find(|k| named(k))
}

pub(super) async fn add_receipt(s: &AppState, r: &mut AppendResponse, cp: &Published) {
    match build_receipt(s, r.index, cp) {
        Ok(text) => {
            r.receipt = Some(text);
            r.checkpoint_size = Some(cp.size);
        }
        Err(e) => tracing::warn!("no receipt for {}: {}", r.index, e.message),
    }
}

/// Appends one signed statement (spec/api.md §3.1).
#[utoipa::path(post, path = "/v1/entries", tag = "append",
    request_body = AppendRequest,
    params(("wait" = Option<schema::Wait>, Query, description = "`checkpoint`: wait for a checkpoint and return a receipt")),
    responses(
        (status = 201, description = "appended and durable", body = AppendResponse),
        (status = 200, description = "already appended: the original result", body = AppendResponse),
        (status = 400, description = "`bad_request`, `bad_json`, `bad_encoding`, `bad_statement`, `bad_payload`", body = ErrorBody),
        (status = 401, description = "`bad_signature`", body = ErrorBody),
        (status = 403, description = "`unknown_agency`, `key_not_active`", body = ErrorBody),
        (status = 409, description = "`conflict`: the submission id was used for another statement", body = ErrorBody),
        (status = 413, description = "`too_large`: the body, statement or payload", body = ErrorBody),
        (status = 422, description = "`wrong_origin`, `registry_rule`", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
        (status = 503, description = "`unavailable`: storage failed or the server is stopping", body = ErrorBody)))]
pub(super) async fn append(
    State(s): State<AppState>,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let wait = wants_receipt(&uri)?;
    let bytes = body(bytes, s.limits.max_body)?;
    let req: AppendRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("bad_json", format!("request body: {e}")))?;
    let sub = submission(req, &s.limits)?;
    not_a_read(&sub)?;
    let result = append_one(&s, sub).await?;
    let mut r = response(&result);
    if wait && let Some(cp) = covering_checkpoint(&s, r.index).await {
        add_receipt(&s, &mut r, &cp).await;
    }
    let status = if r.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(r)).into_response())
}

/// Appends up to 1,000 signed statements, in order (spec/api.md §3.2).
#[utoipa::path(post, path = "/v1/entries/batch", tag = "append",
    request_body = BatchRequest,
    params(("wait" = Option<schema::Wait>, Query, description = "`checkpoint`: wait for a checkpoint and return receipts")),
    responses(
        (status = 200, description = "one result per entry", body = BatchResponse),
        (status = 400, description = "`bad_request`, `bad_json`: not a batch", body = ErrorBody),
        (status = 413, description = "`too_large`: the body, or more entries than the batch limit", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
        (status = 503, description = "`unavailable`: storage failed or the server is stopping", body = ErrorBody)))]
pub(super) async fn append_batch(
    State(s): State<AppState>,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<BatchResponse>> {
    let wait = wants_receipt(&uri)?;
    let bytes = body(bytes, s.limits.max_batch_body)?;
    let req = parse_batch(&bytes, s.limits.max_batch_entries)?;
    let mut slots: Vec<Option<ApiError>> = Vec::with_capacity(req.entries.len());
    let mut subs = Vec::new();
    for e in req.entries {
        match submission(e, &s.limits).and_then(|sub| not_a_read(&sub).map(|()| sub)) {
            Ok(sub) => {
                subs.push(sub);
                slots.push(None);
            }
            Err(err) => slots.push(Some(err)),
        }
    }
    // Refused signatures take their slot; the others go to the sequencer.
    let mut checked = verify_signatures(&s, subs).await?.into_iter();
    let mut subs = Vec::new();
    for slot in slots.iter_mut().filter(|slot| slot.is_none()) {
        match checked.next() {
            Some(Ok(sub)) => subs.push(sub),
            Some(Err(err)) => *slot = Some(err),
            None => *slot = Some(ApiError::internal()),
        }
    }
    let mut sequenced = if subs.is_empty() {
        Vec::new()
    } else {
        sequence(&s, subs).await?
    }
    .into_iter();
    let mut results = Vec::with_capacity(slots.len());
    let mut max_index = None;
    for slot in slots {
        let r = match slot {
            Some(err) => Err(err),
            None => sequenced
                .next()
                .unwrap_or(Err(AppendError::Unavailable))
                .map_err(ApiError::from),
        };
        if let Ok(a) = &r {
            max_index = max_index.max(Some(a.index));
        }
        results.push(r);
    }
    let cp = match (wait, max_index) {
        (true, Some(m)) => covering_checkpoint(&s, m).await,
        _ => None,
    };
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        out.push(match r {
            Ok(a) => {
                let mut resp = response(&a);
                if let Some(cp) = &cp {
                    add_receipt(&s, &mut resp, cp).await;
                }
                BatchResult::Ok(resp)
            }
            Err(e) => {
                s.metrics.reject(e.code);
                BatchResult::Err(ErrorBody { error: e.detail() })
            }
        });
    }
    Ok(Json(BatchResponse { results: out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(n: usize, tail: &str) -> Vec<u8> {
        let one = r#"{"statement":"","signature":""}"#;
        let mut items = vec![one; n].join(",");
        items.push_str(tail);
        format!(r#"{{"entries":[{items}]}}"#).into_bytes()
    }

    #[test]
    fn batch_parsing_stops_at_the_entry_limit() {
        assert_eq!(parse_batch(&batch_of(3, ""), 3).unwrap().entries.len(), 3);
        let err = parse_batch(&batch_of(4, ""), 3).unwrap_err();
        assert_eq!(err.code, "too_large");
        // Parsing stops at entry 4: what follows is never read (a full parse
        // would call this body malformed).
        let err = parse_batch(&batch_of(4, r#",{"not":"an entry"}"#), 3).unwrap_err();
        assert_eq!(err.code, "too_large");
    }

    #[test]
    fn batch_parsing_is_still_strict() {
        for (body, why) in [
            (&br#"{"entries":[],"more":1}"#[..], "unknown field"),
            (br#"{"entries":[],"entries":[]}"#, "duplicate"),
            (br#"{}"#, "missing"),
            (br#"{"entries":[]} x"#, "trailing"),
            (br#"[]"#, "not an object"),
            (br#"{"entries":[{"statement":""}]}"#, "incomplete entry"),
        ] {
            let err = parse_batch(body, 10).unwrap_err();
            assert_eq!(err.code, "bad_json", "{why}");
        }
        assert!(
            parse_batch(br#"{"entries":[]}"#, 10)
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
