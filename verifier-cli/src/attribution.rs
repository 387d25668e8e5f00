//! Who signed an entry (#14 item 2). An entry names its agency and the hash of
//! the key that signed it; both are the entry's claims. `receipt` and
//! `inclusion` check them only as far as asked, and say how far:
//!
//! - a form-2 receipt carries the signer's public key: it must hash to the
//!   entry's key hash and verify its signature (spec/receipts.md §3), which
//!   shows that this key signed, not whose key it is;
//! - `--agency-key KEY`: the given key must be that key (fully offline);
//! - `--authority-key KEY` with a log: the log's entries up to the entry are read
//!   and checked with the registry rules (spec/registry.md §4) under that
//!   authority key, every registry signature verified, so that the signer is
//!   shown to be an active key of the claimed agency at that index. A broken
//!   rule is proven against the log only if the entries read hash to the signed
//!   tree at that size; otherwise the source is bad (exit 2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use ed25519_dalek::VerifyingKey;
use ledger_core::TreeSize;
use ledger_core::checkpoint::SignedCheckpoint;
use ledger_core::entry::{Entry, strict_public_key};
use ledger_core::hash::leaf_hash;
use ledger_core::note::Ed25519Verifier;
use ledger_core::receipt::check_signer;
use ledger_core::registry::{Registry, TrustAnchors};
use ledger_core::tile::TileBuilder;
use ledger_core::tree::tree_hash;
use serde_json::json;

use crate::check::{Authenticated, Problem, Verified};
use crate::source::{Source, bad_source, read_bundle};

/// How to attribute the entry to its signer.
#[derive(Args, Clone, Debug, Default)]
pub struct AttributionArgs {
    /// Check that this key (base64 of 32 bytes, e.g. from the agency's
    /// registration) signed the entry; offline.
    #[arg(long, value_name = "KEY")]
    pub agency_key: Option<String>,
    /// Check, by reading the log up to the entry, that its signer was an active
    /// key of the agency it names at its index, in the registry kept by this
    /// authority key (base64 of 32 bytes, from a source you trust).
    #[arg(long, value_name = "KEY")]
    pub authority_key: Option<String>,
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// A key given on the command line: base64 of a strict Ed25519 key.
pub fn parse_key(flag: &str, b64: &str) -> Result<VerifyingKey, Problem> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| unable(format!("{flag} must be base64 of a 32-byte Ed25519 key")))?;
    strict_public_key(&bytes).map_err(|e| unable(format!("{flag}: {e}")))
}

/// Adds what is known of the signer of `entry` to `v`: `carried` is a signer
/// key already checked against the entry (a form-2 receipt); `log` is where to
/// read the log for `--authority-key`, with its verified checkpoint.
///
/// # Errors
/// [`Problem::Failed`] if a given key did not sign the entry or the signer
/// was not an active key of its agency there; [`Problem::Unable`] for a bad
/// key argument, `--authority-key` without a log, or a bad source.
pub fn attribute(
    v: &mut Verified,
    entry: &Entry,
    carried: Option<&VerifyingKey>,
    args: &AttributionArgs,
    log: Option<(&Source, &SignedCheckpoint, &Ed25519Verifier)>,
) -> Result<(), Problem> {
    let mut checked = Vec::new();
    if let Some(k) = carried {
        v.add(
            "signer key",
            "signer_key",
            json!(STANDARD.encode(k.as_bytes())),
        );
        checked.push("the signer key the receipt carries signed it");
    }
    if let Some(b64) = &args.agency_key {
        let key = parse_key("--agency-key", b64)?;
        check_signer(entry, &key).map_err(|e| {
            failed(format!(
                "not signed by the key given with --agency-key: {e}"
            ))
        })?;
        checked.push("the key given with --agency-key signed it");
    }
    if let Some(b64) = &args.authority_key {
        let authority = parse_key("--authority-key", b64)?;
        let Some((src, cp, vkey)) = log else {
            return Err(unable(
                "--authority-key needs --log, to read the registry up to the entry",
            ));
        };
        active_key_at(src, cp, vkey, authority, entry.index.0)?;
        checked.push(
            "its signer was an active key of the agency it names at its index, in the registry \
             of the authority key given (the log read up to the entry, every registry signature verified)",
        );
    }
    let summary = if checked.is_empty() {
        "not checked: the agency and key hash are the entry's claims (give --agency-key, or \
         --log with --authority-key)"
            .to_owned()
    } else {
        checked.join("; ")
    };
    v.add("attribution", "attribution", json!(summary));
    Ok(())
}

/// Replays the registry rules over entries `0..=index` of the log under
/// `authority`, verifying the authority's signatures and entry `index`'s own:
/// entry `index` passing shows that its key was an active key of its agency
/// there (spec/registry.md §4, check 9).
fn active_key_at(
    src: &Source,
    cp: &SignedCheckpoint,
    vkey: &Ed25519Verifier,
    authority: VerifyingKey,
    index: u64,
) -> Result<(), Problem> {
    let size = cp.checkpoint.size.0;
    let anchors = TrustAnchors {
        authority_key: Some(authority),
        log_vkey: Some(vkey.to_vkey()),
    };
    let mut registry = Registry::new(cp.checkpoint.origin.as_str(), anchors);
    let mut builder = TileBuilder::new();
    // The first rule broken: proven only once the entries read are the log's.
    let mut broken: Option<String> = None;
    for n in 0..=index / 256 {
        let (path, entries) = read_bundle(src, n, size)?;
        for (j, e) in entries.iter().enumerate() {
            let i = n * 256 + j as u64;
            if i > index {
                break;
            }
            builder.append(leaf_hash(e));
            if broken.is_some() {
                continue;
            }
            match registry.apply_deferred(e) {
                // Only the registry's signatures decide which keys are active.
                Ok((applied, sig)) if applied.statement.agency.is_registry() || i == index => {
                    if let Err(err) = sig.verify() {
                        broken = Some(format!("entry {i} ({path}): {err}"));
                    }
                }
                Ok(_) => {}
                Err(err) => broken = Some(format!("entry {i} ({path}): {err}")),
            }
        }
    }
    let reader = Authenticated::new(src, cp)?;
    let signed = tree_hash(TreeSize(index + 1), &reader).map_err(|e| reader.classify(e))?;
    if builder.root() != signed {
        return Err(bad_source(
            &src.name(),
            &format!(
                "its first {} entries hash to {}, but the signed tree has {} at that size",
                index + 1,
                builder.root().to_base64(),
                signed.to_base64()
            ),
        ));
    }
    match broken {
        Some(b) => Err(failed(format!(
            "{b} (the entries up to {index} are the log's: they hash to the signed tree)"
        ))),
        None => Ok(()),
    }
}
