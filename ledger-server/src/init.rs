//! `ledger-server init`: creates a ledger's data directory, its log signing key
//! and its genesis entry (spec/registry.md §3.1), signed by the registry
//! authority.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger_core::TreeSize;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::entry::{sign_statement, verify_statement_signature};
use ledger_core::note::Ed25519Signer;
use ledger_core::registry::{Registry, TrustAnchors};
use ledger_core::statement::Statement;

use crate::ledger::{LedgerDb, META_CHECKPOINT, META_ORIGIN};
use crate::node::{db_dir, log_key_path, read_log_key};
use crate::sequencer::{Core, Submission};
use crate::store::{Batch, Cf, RocksStore, Storage};

/// Where the genesis signature comes from.
pub enum Authority {
    /// Generate a development authority key and keep it in the data directory.
    Dev,
    /// The authority's secret key file (base64 of the 32-byte seed), used once.
    SecretKey(PathBuf),
    /// Only the authority's public key (base64); the signature over
    /// `genesis.json` comes from the authority, offline.
    PublicKey {
        /// The authority's key.
        key: String,
        /// Its signature over `genesis.json`, base64, once it has signed.
        signature: Option<String>,
    },
}

/// What `init` did.
#[derive(Debug)]
pub enum InitOutcome {
    /// The ledger exists, with its genesis entry and first checkpoint.
    Created {
        /// The log's verifier key string.
        vkey: String,
        /// The authority's key, base64.
        authority_key: String,
        /// Where a development authority key was written.
        dev_authority_key: Option<PathBuf>,
    },
    /// The genesis statement waits for the authority's signature.
    NeedsSignature {
        /// The statement to sign.
        genesis: PathBuf,
        /// The log's verifier key string.
        vkey: String,
    },
}

/// Reads a secret key file: base64 of a 32-byte Ed25519 seed (as
/// `agency-client keygen` writes it).
///
/// # Errors
/// If the file cannot be read or does not hold a seed.
pub fn read_secret_key(path: &Path) -> Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            anyhow!(
                "{} must hold base64 of a 32-byte Ed25519 seed",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a secret file with mode 0600, refusing to overwrite.
///
/// # Errors
/// If the file exists or cannot be written.
pub fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()?;
    Ok(())
}

/// An RFC 3339 UTC timestamp with a `Z`, to the second.
pub fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn parse_pubkey(b64: &str) -> Result<VerifyingKey> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            anyhow!("the authority key must be base64 of a 32-byte Ed25519 public key")
        })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| anyhow!("the authority key is not a valid Ed25519 key"))
}

/// The genesis statement (spec/registry.md §3.1).
pub fn genesis_statement(origin: &Origin, authority: &VerifyingKey, vkey: &str) -> Vec<u8> {
    let object = serde_json::json!({
        "authority_key": STANDARD.encode(authority.as_bytes()),
        "log_vkey": vkey,
    });
    let st = serde_json::json!({
        "v": 1,
        "origin": origin.as_str(),
        "agency": "registry",
        "submission_id": "genesis",
        "type": "registry.genesis",
        "channel": "G2G",
        "occurred_at": now_rfc3339(),
        "object": object,
    });
    // serde_json without preserve_order writes keys sorted; any order is valid,
    // the exact bytes are what is signed.
    st.to_string().into_bytes()
}

/// Creates the ledger in `data`.
///
/// # Errors
/// If `data` already holds a ledger, a key does not match, or storage fails.
pub fn init(data: &Path, origin: &str, authority: Authority) -> Result<InitOutcome> {
    init_with(data, origin, authority, false)
}

/// As [`init`]. A `log.key` already in `data` is used only for the second step
/// of an offline ceremony (`genesis.json` is there, waiting for the authority's
/// signature) or with `reuse_log_key`: a second history signed by one log key is
/// a fork (issue #14 item 16).
///
/// # Errors
/// As [`init`], and if `data` holds a `log.key` that may not be reused.
pub fn init_with(
    data: &Path,
    origin: &str,
    authority: Authority,
    reuse_log_key: bool,
) -> Result<InitOutcome> {
    let origin = Origin::new(origin).map_err(|e| anyhow!("--origin: {e}"))?;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let published = crate::cpfile::CheckpointFile::new(data);
    if published.path().exists() {
        bail!(
            "{} exists: {} held a ledger that published checkpoints; refusing to start a new \
             history under the same log key (restore the old store from a backup instead)",
            published.path().display(),
            data.display()
        );
    }
    if db_dir(data).exists() {
        let store = RocksStore::open(&db_dir(data))?;
        if LedgerDb::without_keys(Arc::new(store)).origin()?.is_some() {
            bail!(
                "{} already holds a ledger; refusing to initialise it again",
                data.display()
            );
        }
    }
    // The log key: made once, kept across the two steps of an offline ceremony.
    let signer = if log_key_path(data).exists() {
        let ceremony =
            matches!(authority, Authority::PublicKey { .. }) && data.join("genesis.json").exists();
        if !ceremony && !reuse_log_key {
            bail!(
                "{} already exists: a log key that may have signed another ledger's checkpoints; \
                 a second history under the same key is a fork. Move it away, or pass \
                 --reuse-log-key if this key has never signed anything",
                log_key_path(data).display()
            );
        }
        let s = read_log_key(data)?;
        if s.name().as_str() != origin.as_str() {
            bail!(
                "{} is for origin {:?}, not {:?}",
                log_key_path(data).display(),
                s.name().as_str(),
                origin.as_str()
            );
        }
        s
    } else {
        let s = Ed25519Signer::generate(
            origin.key_name(),
            &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
        );
        write_secret(&log_key_path(data), &s.to_skey())?;
        s
    };
    let vkey = signer.verifier().to_vkey();
    let genesis_path = data.join("genesis.json");
    let mut dev_key_path = None;
    let (authority_key, genesis, signature) = match authority {
        Authority::Dev => {
            let key = SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(getrandom::SysRng));
            let path = data.join("authority.key");
            write_secret(&path, &STANDARD.encode(key.to_bytes()))?;
            dev_key_path = Some(path);
            let g = genesis_statement(&origin, &key.verifying_key(), &vkey);
            let sig = sign_statement(&key, &g);
            (key.verifying_key(), g, sig)
        }
        Authority::SecretKey(path) => {
            let key = read_secret_key(&path)?;
            let g = genesis_statement(&origin, &key.verifying_key(), &vkey);
            let sig = sign_statement(&key, &g);
            (key.verifying_key(), g, sig)
        }
        Authority::PublicKey { key, signature } => {
            let key = parse_pubkey(&key)?;
            let g = if genesis_path.exists() {
                std::fs::read(&genesis_path)?
            } else {
                let g = genesis_statement(&origin, &key, &vkey);
                std::fs::write(&genesis_path, &g)?;
                g
            };
            let Some(sig) = signature else {
                return Ok(InitOutcome::NeedsSignature {
                    genesis: genesis_path,
                    vkey,
                });
            };
            let sig: [u8; 64] = STANDARD
                .decode(sig.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow!("--genesis-signature must be base64 of 64 bytes"))?;
            if !verify_statement_signature(&key, &g, &sig) {
                bail!(
                    "the signature does not verify over {} with the authority key",
                    genesis_path.display()
                );
            }
            (key, g, sig)
        }
    };
    let store: Arc<dyn Storage> = Arc::new(RocksStore::open(&db_dir(data))?);
    let note = write_genesis(store, &signer, &origin, authority_key, genesis, signature)?;
    let file = crate::cpfile::CheckpointFile::new(data);
    file.write(&note)
        .with_context(|| format!("writing {}", file.path().display()))?;
    let _ = std::fs::remove_file(&genesis_path);
    Ok(InitOutcome::Created {
        vkey,
        authority_key: STANDARD.encode(authority_key.as_bytes()),
        dev_authority_key: dev_key_path,
    })
}

/// Writes the genesis entry (checked against the trust anchors: this authority
/// key and this log key), the origin, and the first checkpoint into an empty
/// store, and returns that checkpoint's signed note.
///
/// # Errors
/// If genesis is refused or storage fails.
pub fn write_genesis(
    store: Arc<dyn Storage>,
    signer: &Ed25519Signer,
    origin: &Origin,
    authority_key: VerifyingKey,
    genesis: Vec<u8>,
    signature: [u8; 64],
) -> Result<Vec<u8>> {
    let vkey = signer.verifier().to_vkey();
    let statement = Statement::parse(&genesis).map_err(|e| anyhow!("genesis statement: {e}"))?;
    let db = LedgerDb::without_keys(store.clone());
    if db.origin()?.is_some() || db.size()? > 0 {
        bail!("the store already holds a ledger");
    }
    let anchors = TrustAnchors {
        authority_key: Some(authority_key),
        log_vkey: Some(vkey),
    };
    let registry = Registry::new(origin.as_str(), anchors);
    let mut core = Core::empty(db, registry, origin.clone(), signer.verifier());
    let mut extra = Batch::new();
    extra.put(Cf::Meta, META_ORIGIN, origin.as_str().as_bytes().to_vec());
    let out = core.process(
        vec![Submission {
            statement,
            signature,
            payload: None,
            verified_by: None,
        }],
        extra,
    );
    match out.results.into_iter().next() {
        Some(Ok(_)) => {}
        Some(Err(e)) => bail!("genesis was refused: {e}"),
        None => bail!("genesis was not processed"),
    }
    let c = out.committed;
    let note = sign_checkpoint(
        &Checkpoint::new(origin.clone(), TreeSize(c.size), c.root),
        signer,
    );
    let mut b = Batch::new();
    b.put(Cf::Meta, META_CHECKPOINT, note.clone());
    store.write(b)?;
    Ok(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #14 item 16: a log key found in a new directory is not silently
    /// reused (it may have signed another history).
    #[test]
    fn a_found_log_key_is_reused_only_when_told() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let origin = Origin::new("reuse.egov-ledger.example/log").unwrap();
        let old = Ed25519Signer::generate(
            origin.key_name(),
            &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
        );
        write_secret(&log_key_path(&data), &old.to_skey()).unwrap();
        let err = init(&data, origin.as_str(), Authority::Dev).unwrap_err();
        assert!(err.to_string().contains("--reuse-log-key"), "{err}");
        assert!(!db_dir(&data).exists(), "nothing was created");
        let InitOutcome::Created { .. } =
            init_with(&data, origin.as_str(), Authority::Dev, true).unwrap()
        else {
            panic!("init with --reuse-log-key creates the ledger");
        };
        assert_eq!(read_log_key(&data).unwrap().to_skey(), old.to_skey());
    }

    /// The second step of an offline ceremony uses the key the first step made.
    #[test]
    fn the_offline_ceremony_keeps_its_log_key() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let authority = SigningKey::from_bytes(&[3u8; 32]);
        let public = STANDARD.encode(authority.verifying_key().as_bytes());
        let InitOutcome::NeedsSignature { genesis, .. } = init(
            &data,
            "ceremony.egov-ledger.example/log",
            Authority::PublicKey {
                key: public.clone(),
                signature: None,
            },
        )
        .unwrap() else {
            panic!("the first step asks for the authority's signature");
        };
        let sig = sign_statement(&authority, &std::fs::read(genesis).unwrap());
        let outcome = init(
            &data,
            "ceremony.egov-ledger.example/log",
            Authority::PublicKey {
                key: public,
                signature: Some(STANDARD.encode(sig)),
            },
        )
        .unwrap();
        assert!(matches!(outcome, InitOutcome::Created { .. }));
    }
}
