//! The OpenAPI document (spec/api.md): schemas for the path and query
//! parameters, the error table, and the routes the derive cannot describe.

use super::*;

/// Schemas for the strings of the API (spec/api.md §1): hashes, base64, ids,
/// times and codes. Fields refer to them with `#[schema(value_type = ...)]`, so
/// that the document states their exact form, and a fuzzer that reads it sends
/// well-formed values as well as malformed ones.
pub(super) mod schema {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, SchemaFormat};

    /// Declares an uninhabited type whose only use is its string schema: a
    /// pattern, or a closed list of values.
    macro_rules! string_schema {
        ($(#[doc = $doc:literal])+ $name:ident, pattern = $pattern:literal $(, max_length = $max:literal)? $(, format = $format:expr)?) => {
            $(#[doc = $doc])+
            pub enum $name {}
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(concat!($($doc),+).trim()))
                        .pattern(Some($pattern))
                        $(.max_length(Some($max)))?
                        $(.format(Some($format)))?
                        .into()
                }
            }
            impl utoipa::ToSchema for $name {}
        };
        ($(#[doc = $doc:literal])+ $name:ident, values = $values:expr) => {
            $(#[doc = $doc])+
            pub enum $name {}
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(concat!($($doc),+).trim()))
                        .enum_values(Some($values.iter().copied()))
                        .into()
                }
            }
            impl utoipa::ToSchema for $name {}
        };
    }

    string_schema!(
        /// 32 bytes (a SHA-256 hash or a payload salt), lowercase hex.
        Hex32,
        pattern = "^[0-9a-f]{64}$"
    );
    string_schema!(
        /// Bytes, canonical standard base64 with padding (RFC 4648 §4).
        Base64,
        pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
    );
    string_schema!(
        /// A 64-byte Ed25519 signature, canonical base64.
        Signature,
        pattern = "^[A-Za-z0-9+/]{85}[AQgw]==$"
    );
    string_schema!(
        /// A 32-byte Ed25519 public key, canonical base64.
        PublicKey,
        pattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
    );
    string_schema!(
        /// An agency id (entry.md §1): 1-64 of a-z, 0-9, '.', '-', starting and ending
        /// with a letter or digit.
        AgencyId,
        pattern = "^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$"
    );
    string_schema!(
        /// A statement type (entry.md §1): 2-8 dot-separated segments of a-z, 0-9,
        /// '_', the first one decision, service, transfer, registry or access.
        StatementType,
        pattern = "^(?:decision|service|transfer|registry|access)(?:\\.[a-z0-9_]+){1,7}$",
        max_length = 128
    );
    string_schema!(
        /// A submission id (entry.md §1): 1-128 of A-Z, a-z, 0-9, '.', '_', ':', '/', '-'.
        SubmissionId,
        pattern = "^[A-Za-z0-9._:/-]{1,128}$"
    );
    string_schema!(
        /// A delivery channel.
        Channel,
        values = ["G2C", "G2B", "G2G"]
    );
    string_schema!(
        /// An RFC 3339 time in UTC, with a `Z`.
        UtcTime,
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?Z$",
        max_length = 40,
        format = SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)
    );
    string_schema!(
        /// Where the next page of a search starts: an entry index, decimal.
        Cursor,
        pattern = "^(?:0|[1-9][0-9]{0,18})$"
    );
    string_schema!(
        /// `checkpoint`: wait for a checkpoint that covers the appended entries, and
        /// answer with receipts (spec/api.md §3.1).
        Wait,
        values = ["checkpoint"]
    );
    string_schema!(
        /// A tile index below 1000 in the tlog-tiles path encoding: three digits.
        TileIndex,
        pattern = "^[0-9]{3}$"
    );
    string_schema!(
        /// A stable error code (spec/api.md §1.1).
        ErrorCode,
        values = super::ERROR_CODES
    );

    /// One entry of a batch (spec/api.md §3.2): the fields of an append request.
    /// A batch whose entries do not have this shape is refused as a whole (400);
    /// the fields' contents are checked entry by entry, and a malformed one gets
    /// an error in its result while the others are appended.
    pub enum BatchEntry {}

    impl utoipa::PartialSchema for BatchEntry {
        fn schema() -> RefOr<Schema> {
            let string = |what: &str| {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(what))
            };
            let optional = |what: &str| {
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(what))
            };
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "One entry of a batch: the fields of AppendRequest. Their contents are \
                     checked entry by entry: a malformed one gets an error in its result.",
                ))
                .property("statement", string("base64 of the exact statement bytes"))
                .required("statement")
                .property(
                    "signature",
                    string("base64 of the 64-byte Ed25519 signature"),
                )
                .required("signature")
                .property("payload", optional("base64 of the private payload"))
                .property("salt", optional("hex of the payload's 32-byte salt"))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .into()
        }
    }

    impl utoipa::ToSchema for BatchEntry {}
}

/// Every error code the API answers with, as listed in spec/api.md §1.1.
pub(super) const ERROR_CODES: [&str; 24] = [
    "bad_request",
    "bad_json",
    "bad_encoding",
    "bad_statement",
    "bad_payload",
    "bad_signature",
    "unknown_agency",
    "key_not_active",
    "not_found",
    "method_not_allowed",
    "request_timeout",
    "conflict",
    "too_large",
    "wrong_origin",
    "registry_rule",
    "access_denied",
    "access_statement_required",
    "access_replayed",
    "no_payload",
    "payload_not_held",
    "payload_erased",
    "queue_full",
    "unavailable",
    "internal",
];

/// An error response, for the document.
pub(super) fn error_response(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Adds to the document what is not in the handlers' annotations: the C2SP
/// tile paths (spec/api.md §2; one handler serves them all) and the 408 that
/// the request time limit (spec/api.md §1.1) can answer on every route.
pub(super) struct Extras;

impl utoipa::Modify for Extras {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{
            HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
        };
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, HeaderBuilder, Required, ResponseBuilder};

        let integer = |min: u64, max: u64| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min as f64))
                .maximum(Some(max as f64))
                .build()
        };
        let level = ParameterBuilder::new()
            .name("L")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("the tile level"))
            .schema(Some(integer(
                0,
                u64::from(ledger_core::tile::MAX_TILE_LEVEL),
            )))
            .build();
        let index = ParameterBuilder::new()
            .name("N")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "the tile index below 1000, three digits. Larger indexes take more \
                 path segments (`x001/x234/067`, c2sp.org/tlog-tiles), which a path \
                 template cannot express; they are served the same way. The path must \
                 be sent in canonical form, without percent-encoding.",
            ))
            .schema(Some(utoipa::openapi::Ref::from_schema_name("TileIndex")))
            .build();
        let width = ParameterBuilder::new()
            .name("W")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("the width of a partial tile"))
            .schema(Some(integer(1, 255)))
            .build();
        let cache = |value: &str| {
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(value))
                .build()
        };
        let found = |what: &str, cache_control: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/octet-stream",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                )
                .header("Cache-Control", cache(cache_control))
                .build()
        };
        let tiles = [
            (
                "/tile/{L}/{N}",
                "A full hash tile: 256 hashes of 32 bytes (c2sp.org/tlog-tiles).",
                false,
                true,
            ),
            (
                "/tile/{L}/{N}.p/{W}",
                "A partial hash tile of `W` hashes (c2sp.org/tlog-tiles).",
                true,
                true,
            ),
            (
                "/tile/entries/{N}",
                "A full entry bundle: 256 entries, each a big-endian u16 length and the entry (c2sp.org/tlog-tiles).",
                false,
                false,
            ),
            (
                "/tile/entries/{N}.p/{W}",
                "A partial entry bundle of `W` entries (c2sp.org/tlog-tiles).",
                true,
                false,
            ),
        ];
        for (path, summary, partial, hashes) in tiles {
            let mut params = Vec::new();
            if hashes {
                params.push(level.clone());
            }
            params.push(index.clone());
            if partial {
                params.push(width.clone());
            }
            let ok = if partial {
                found(summary, "`public, max-age=5`")
            } else {
                found(summary, "`public, max-age=31536000, immutable`")
            };
            let operation = OperationBuilder::new()
                .tag("c2sp")
                .summary(Some(summary))
                .operation_id(Some(format!(
                    "tile_{}{}",
                    if hashes { "hashes" } else { "entries" },
                    if partial { "_partial" } else { "" }
                )))
                .parameters(Some(params))
                .response("200", ok)
                .response(
                    "404",
                    error_response(
                        "`not_found`: not a canonical tile path, or not in the log (yet)",
                    ),
                )
                .response("503", error_response("`unavailable`: storage failed"));
            doc.paths
                .paths
                .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
        }

        for operation in doc.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
        }) {
            operation.responses.responses.insert(
                "408".to_owned(),
                error_response(
                    "`request_timeout`: the request took longer than the request time limit",
                )
                .into(),
            );
        }
    }
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "e-government audit ledger",
        description = "Append-only, signed, tiled transparency ledger. The C2SP tlog-tiles read API (`/tile/<L>/<N>[.p/<W>]`, `/tile/entries/<N>[.p/<W>]`) is served too; see spec/api.md §2."
    ),
    paths(
        checkpoint,
        append,
        append_batch,
        search,
        entry,
        receipt,
        inclusion,
        consistency,
        agencies,
        agency,
        payloads::payload_get,
        payloads::payload_read,
        payloads::entry_accesses,
        log_params,
        healthz,
        metrics_text,
        openapi
    ),
    modifiers(&Extras),
    components(schemas(
        schema::Hex32,
        schema::Base64,
        schema::Signature,
        schema::PublicKey,
        schema::AgencyId,
        schema::StatementType,
        schema::SubmissionId,
        schema::Channel,
        schema::UtcTime,
        schema::Cursor,
        schema::Wait,
        schema::TileIndex,
        schema::ErrorCode,
        schema::BatchEntry,
        ErrorBody,
        ErrorDetail,
        AppendRequest,
        AppendResponse,
        BatchRequest,
        BatchResult,
        BatchResponse,
        EntryView,
        SearchResponse,
        InclusionView,
        ConsistencyView,
        KeyView,
        AgencyView,
        AgenciesResponse,
        payloads::PayloadRelease,
        payloads::AccessView,
        payloads::AccessesView,
        LogView,
        HealthView
    ))
)]
pub struct ApiDoc;

/// The OpenAPI document (spec/api.md).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 JSON", content_type = "application/json", body = Object)))]
pub(super) async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::openapi::path::Operation;
    use utoipa::openapi::{RefOr, Response};

    use super::*;

    /// The codes in the error table of spec/api.md §1.1.
    fn spec_codes() -> BTreeSet<String> {
        let spec = include_str!("../../../spec/api.md");
        let start = spec.find("### 1.1 Errors").expect("spec/api.md has §1.1");
        let section = &spec[start..];
        let end = section[4..].find("\n### ").map_or(section.len(), |e| e + 4);
        section[..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
            .collect()
    }

    fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, &Operation)> {
        doc.paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                [&item.get, &item.post]
                    .into_iter()
                    .flatten()
                    .map(move |op| (path.clone(), op))
            })
            .collect()
    }

    fn response<'a>(op: &'a Operation, status: &str) -> Option<&'a Response> {
        match op.responses.responses.get(status)? {
            RefOr::T(r) => Some(r),
            RefOr::Ref(_) => None,
        }
    }

    #[test]
    fn error_codes_are_the_spec_table() {
        let ours: BTreeSet<String> = ERROR_CODES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(ours, spec_codes());
    }

    #[test]
    fn every_error_response_is_a_json_error_body() {
        let doc = ApiDoc::openapi();
        let ops = operations(&doc);
        assert!(ops.len() >= 18, "{} operations", ops.len());
        for (path, op) in ops {
            assert!(
                response(op, "408").is_some(),
                "{path}: no 408 (request time limit)"
            );
            for (status, r) in &op.responses.responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let RefOr::T(r) = r else {
                    panic!("{path} {status}: a reference")
                };
                let schema = r
                    .content
                    .get("application/json")
                    .and_then(|c| c.schema.as_ref());
                assert!(
                    matches!(schema, Some(RefOr::Ref(s)) if s.ref_location == "#/components/schemas/ErrorBody"),
                    "{path} {status}: not an ErrorBody"
                );
                assert_eq!(r.content.len(), 1, "{path} {status}");
            }
        }
    }

    #[test]
    fn content_types_are_the_served_ones() {
        let doc = ApiDoc::openapi();
        let content_type = |path: &str| {
            let op = doc.paths.paths[path].get.as_ref().expect(path);
            let ok = response(op, "200").expect(path);
            ok.content.keys().cloned().collect::<Vec<_>>()
        };
        for tile in [
            "/tile/{L}/{N}",
            "/tile/{L}/{N}.p/{W}",
            "/tile/entries/{N}",
            "/tile/entries/{N}.p/{W}",
        ] {
            assert_eq!(content_type(tile), ["application/octet-stream"], "{tile}");
        }
        assert_eq!(content_type("/checkpoint"), ["text/plain"]);
        assert_eq!(content_type("/v1/receipts/{index}"), ["text/plain"]);
        assert_eq!(content_type("/metrics"), ["application/openmetrics-text"]);
        assert_eq!(content_type("/v1/entries/{index}"), ["application/json"]);
    }

    /// A node on an in-memory store that holds only its genesis entry.
    fn genesis_node() -> crate::node::Node {
        use ed25519_dalek::SigningKey;
        use ledger_core::checkpoint::Origin;
        use ledger_core::note::Ed25519Signer;

        let origin = Origin::new("test.egov-ledger.example/api").expect("origin");
        let signer = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[1; 32]));
        let authority = SigningKey::from_bytes(&[2; 32]);
        let genesis = crate::init::genesis_statement(
            &origin,
            &authority.verifying_key(),
            &signer.verifier().to_vkey(),
        );
        let signature = ledger_core::entry::sign_statement(&authority, &genesis);
        let store = Arc::new(crate::store::MemStore::new());
        crate::init::write_genesis(
            store.clone(),
            &signer,
            &origin,
            authority.verifying_key(),
            genesis,
            signature,
        )
        .expect("genesis");
        crate::node::Node::start_with(store, signer, crate::node::NodeConfig::default())
            .expect("node")
    }

    #[tokio::test]
    async fn tiles_are_served_only_at_their_canonical_path() {
        use tower::ServiceExt as _;

        let node = genesis_node();
        let router = app(node.state.clone());
        for (path, status) in [
            ("/tile/entries/000.p/1", StatusCode::OK),
            ("/tile/0/000.p/1", StatusCode::OK),
            ("/tile/entries/000%2Ep%2F1", StatusCode::NOT_FOUND),
            ("/tile/0/000.p%2F1", StatusCode::NOT_FOUND),
            ("/tile/0/%30%30%30.p/1", StatusCode::NOT_FOUND),
            ("/tile/0/000.p/1/", StatusCode::NOT_FOUND),
            ("/tile/0/000.p/01", StatusCode::NOT_FOUND),
            ("/tile/%FF/000.p/1", StatusCode::NOT_FOUND),
            ("/tile/0/000", StatusCode::NOT_FOUND),
        ] {
            let request = Request::get(path)
                .body(axum::body::Body::empty())
                .expect(path);
            let response = router.clone().oneshot(request).await.expect(path);
            assert_eq!(response.status(), status, "{path}");
            let content_type = response.headers()[header::CONTENT_TYPE].clone();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect(path);
            if status == StatusCode::OK {
                assert_eq!(content_type, "application/octet-stream", "{path}");
                assert!(!body.is_empty(), "{path}");
            } else {
                let e: ErrorBody = serde_json::from_slice(&body).expect(path);
                assert_eq!(e.error.code, "not_found", "{path}");
            }
        }
        // The router's handle to the sequencer goes first, or the sequencer waits for it.
        drop(router);
        node.shutdown(Duration::from_secs(1)).await;
    }

    #[test]
    fn every_referenced_schema_is_defined() {
        let doc = ApiDoc::openapi();
        let json = doc.to_json().expect("serializes");
        let defined: BTreeSet<String> = doc
            .components
            .as_ref()
            .expect("components")
            .schemas
            .keys()
            .cloned()
            .collect();
        for piece in json.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(defined.contains(name), "{name} is referenced, not defined");
        }
    }
}
