//! Witness policies (c2sp.org/tlog-policy; spec/witness-policy.md): a table of
//! accepted and refused policy files, the evaluation of cosigned checkpoints
//! against a quorum, the quorum's freshness time, and a tlog-cosignature vector
//! from FiloSottile/sunlight (`cmd/skylight/testdata/witness`, recorded in
//! `../shared/interop/README.md`).

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use ledger_core::checkpoint::{Checkpoint, CheckpointError, Origin, sign_checkpoint};
use ledger_core::entry::KeyRejection;
use ledger_core::note::{
    CosignatureSigner, CosignatureVerifier, Ed25519Signer, Ed25519Verifier, KeyId, KeyName, Note,
    NoteError, NoteSignature, NoteVerifier, SIG_COSIGNATURE_V1, SIG_ED25519, cosignature_timestamp,
};
use ledger_core::policy::{
    MAX_GROUPS, MAX_LOGS, MAX_POLICY_SIZE, MAX_WITNESSES, Policy, PolicyError, PolicyName,
    QuorumStatus,
};
use ledger_core::tree::MemoryTree;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "ledger.example.gov/egov";

/// A deterministic key for tests, derived from a label.
fn key(seed: u16) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("policy test key {seed}")).into())
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

fn log_signer(seed: u16) -> Ed25519Signer {
    Ed25519Signer::new(name(ORIGIN), key(seed))
}

fn log_vkey() -> String {
    log_signer(1).verifier().to_vkey()
}

/// Witness `i`'s cosigner, named `w<i>.example.org`.
fn witness(i: u16) -> CosignatureSigner {
    CosignatureSigner::new(name(&format!("w{i}.example.org")), key(1000 + i))
}

fn wkey(i: u16) -> String {
    witness(i).verifier().to_vkey()
}

/// A vkey string for arbitrary key bytes, with its correct key ID.
fn raw_vkey(key_name: &str, sig_type: u8, key: &[u8; 32]) -> String {
    let id = KeyId::compute(&name(key_name), sig_type, key);
    let mut raw = vec![sig_type];
    raw.extend_from_slice(key);
    format!("{key_name}+{id}+{}", STANDARD.encode(raw))
}

/// A small-order point (the identity) and a non-canonical encoding (y >= p).
fn weak_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
}

fn non_canonical_key() -> [u8; 32] {
    let mut k = [0xffu8; 32];
    k[0] = 0xee;
    k[31] = 0x7f;
    k
}

/// The checkpoint of a three-entry tree, signed by the log key `seed`.
fn checkpoint_signed_by(seed: u16) -> Vec<u8> {
    let mut tree = MemoryTree::new();
    for e in [&b"a"[..], b"b", b"c"] {
        tree.append(e);
    }
    let origin = Origin::new(ORIGIN).unwrap();
    sign_checkpoint(
        &Checkpoint::new(origin, tree.size(), tree.root()),
        &log_signer(seed),
    )
}

/// `note` with extra signature lines.
fn with_lines(note: &[u8], lines: impl IntoIterator<Item = NoteSignature>) -> Vec<u8> {
    let mut n = Note::parse(note).unwrap();
    n.signatures.extend(lines);
    n.to_bytes()
}

/// The log's checkpoint cosigned by witness `i` at `t`, for each `(i, t)`.
fn cosigned(cosigs: &[(u16, u64)]) -> Vec<u8> {
    let note = checkpoint_signed_by(1);
    let text = Note::parse(&note).unwrap().text;
    with_lines(
        &note,
        cosigs
            .iter()
            .map(|&(i, t)| witness(i).sign(text.as_bytes(), t).unwrap()),
    )
}

fn parse(text: &str) -> Policy {
    match Policy::parse(text.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("{e}: {text}"),
    }
}

/// The example of c2sp.org/tlog-policy ("Example policy") with real keys:
/// witnesses 1–3 are X1–X3, 4–6 are Y1–Y3.
fn c2sp_example() -> String {
    format!(
        "log {}\n\
         \n\
         witness X1 {}\n\
         witness X2 {}\n\
         witness X3 {}\n\
         group X-witnesses 2 X1 X2 X3\n\
         \n\
         witness Y1 {}\n\
         witness Y2 {}\n\
         witness Y3 {}\n\
         group Y-witnesses any Y1 Y2 Y3\n\
         \n\
         group X-and-Y all X-witnesses Y-witnesses\n\
         quorum X-and-Y\n",
        log_vkey(),
        wkey(1),
        wkey(2),
        wkey(3),
        wkey(4),
        wkey(5),
        wkey(6),
    )
}

fn two_of_three() -> Policy {
    parse(&format!(
        "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup G 2 A B C\nquorum G\n",
        log_vkey(),
        wkey(1),
        wkey(2),
        wkey(3)
    ))
}

fn names(items: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Vec<Vec<u8>> {
    items.into_iter().map(|n| n.as_ref().to_vec()).collect()
}

// ---------------------------------------------------------------------------
// Parsing: accepted policies

#[test]
fn the_c2sp_example_policy_parses() {
    let p = parse(&c2sp_example());
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].origin().as_str(), ORIGIN);
    assert_eq!(p.logs()[0].url(), None);
    assert_eq!(
        names(p.witnesses().iter().map(|w| w.name().as_bytes())),
        names(["X1", "X2", "X3", "Y1", "Y2", "Y3"])
    );
    assert_eq!(p.witnesses()[0].verifier(), &witness(1).verifier());
    let groups: Vec<(Vec<u8>, usize, Vec<Vec<u8>>)> = p
        .groups()
        .iter()
        .map(|g| {
            (
                g.name().as_bytes().to_vec(),
                g.threshold(),
                names(g.members().iter().map(|m| m.as_bytes())),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (b"X-witnesses".to_vec(), 2, names(["X1", "X2", "X3"])),
            (b"Y-witnesses".to_vec(), 1, names(["Y1", "Y2", "Y3"])),
            (
                b"X-and-Y".to_vec(),
                2,
                names(["X-witnesses", "Y-witnesses"])
            ),
        ]
    );
    assert_eq!(p.quorum().unwrap().as_bytes(), b"X-and-Y");
}

#[test]
fn whitespace_comments_urls_and_opaque_bytes_are_accepted() {
    let text = format!(
        "# a comment line\n\
         \t  # an indented comment\n\
         #no space after the hash\n\
         \n\
         \x20\t \n\
         \tlog\t{log}   https://ledger.example.gov/egov/ \t\n\
         witness \tA {a} https://w1.example.org/\n\
         witness a {b}\n\
         witness K {c}\n\
         witness \u{212a} {d} https://b\u{fc}cher.example/w\n\
         witness n\u{e9}\u{ff}\x7e#x {e}\n\
         group G any A a K \u{212a}\n\
         quorum G   \n\
         # lines after the quorum line are allowed\n\
         witness late {f}\n",
        log = log_vkey(),
        a = wkey(1),
        b = wkey(2),
        c = wkey(3),
        d = wkey(4),
        e = wkey(5),
        f = wkey(6),
    );
    let mut bytes = text.into_bytes();
    // A comment and a name in Latin-1, which is not UTF-8: octets above 0x7f are
    // opaque (c2sp.org/tlog-policy, "Character set").
    bytes.extend_from_slice(b"# caf\xe9\nwitness caf\xe9 ");
    bytes.extend_from_slice(wkey(7).as_bytes());
    bytes.extend_from_slice(b" http://caf\xe9.example/\n");
    let p = Policy::parse(&bytes).unwrap();
    assert_eq!(
        p.logs()[0].url().unwrap().as_str(),
        Some("https://ledger.example.gov/egov/")
    );
    let ws = p.witnesses();
    assert_eq!(ws.len(), 7);
    // Names are case-sensitive octet strings: "K" and the Kelvin sign differ.
    assert_eq!(
        names(ws.iter().map(|w| w.name().as_bytes())),
        vec![
            b"A".to_vec(),
            b"a".to_vec(),
            b"K".to_vec(),
            "\u{212a}".as_bytes().to_vec(),
            "n\u{e9}\u{ff}~#x".as_bytes().to_vec(),
            b"late".to_vec(),
            b"caf\xe9".to_vec(),
        ]
    );
    assert_eq!(ws[0].url().unwrap().as_bytes(), b"https://w1.example.org/");
    assert_eq!(ws[1].url(), None);
    assert_eq!(
        ws[3].url().unwrap().as_str(),
        Some("https://b\u{fc}cher.example/w")
    );
    assert_eq!(ws[6].url().unwrap().as_bytes(), b"http://caf\xe9.example/");
    assert_eq!(ws[6].url().unwrap().as_str(), None);
    assert_eq!(p.groups()[0].threshold(), 1);
    assert_eq!(p.quorum().unwrap().as_bytes(), b"G");
}

#[test]
fn minimal_policies() {
    // Only the quorum is mandatory; `none` needs no witness and no log.
    let p = parse("quorum none\n");
    assert!(p.logs().is_empty() && p.witnesses().is_empty() && p.groups().is_empty());
    assert_eq!(p.quorum(), None);
    // The quorum may be a single witness, and witnesses need not be used.
    let p = parse(&format!(
        "witness A {}\nwitness B {}\nquorum A\n",
        wkey(1),
        wkey(2)
    ));
    assert_eq!(p.quorum().unwrap().as_bytes(), b"A");
    // The quorum may be a name that is also a group member.
    parse(&format!(
        "witness A {}\nwitness B {}\ngroup G all A B\nquorum A\n",
        wkey(1),
        wkey(2)
    ));
    // Several logs, two of them for one origin (a key rotation); a log key may
    // equal a witness key (undesirable, but the spec does not forbid it).
    let same_key = Ed25519Verifier::new(
        name("other.example/log"),
        *witness(1).verifier().verifying_key(),
    );
    let p = parse(&format!(
        "log {}\nlog {}\nlog {}\nwitness A {}\nquorum none\n",
        log_vkey(),
        log_signer(2).verifier().to_vkey(),
        same_key.to_vkey(),
        wkey(1)
    ));
    assert_eq!(p.logs().len(), 3);
}

#[test]
fn limits_are_reached_but_not_passed() {
    let logs: String = (0..MAX_LOGS as u16)
        .map(|i| {
            let v = Ed25519Verifier::new(
                name(&format!("log{i}.example")),
                key(5000 + i).verifying_key(),
            );
            format!("log {}\n", v.to_vkey())
        })
        .collect();
    let p = parse(&format!("{logs}quorum none\n"));
    assert_eq!(p.logs().len(), MAX_LOGS);
    let extra = Ed25519Verifier::new(name("one.more"), key(4999).verifying_key()).to_vkey();
    assert_eq!(
        Policy::parse(format!("{logs}log {extra}\nquorum none\n").as_bytes()),
        Err(PolicyError::TooManyLogs { line: MAX_LOGS + 1 })
    );

    let witnesses: String = (0..MAX_WITNESSES as u16)
        .map(|i| format!("witness {i} {}\n", wkey(i)))
        .collect();
    assert_eq!(
        parse(&format!("{witnesses}quorum none\n"))
            .witnesses()
            .len(),
        MAX_WITNESSES
    );
    assert_eq!(
        Policy::parse(format!("{witnesses}witness x {}\nquorum none\n", wkey(9999)).as_bytes()),
        Err(PolicyError::TooManyWitnesses {
            line: MAX_WITNESSES + 1
        })
    );

    // A chain of groups, each the only member of the next: as deep as it gets.
    let chain: String = (1..MAX_GROUPS)
        .map(|i| format!("group g{i} any g{}\n", i - 1))
        .collect();
    let text = format!(
        "log {}\nwitness A {}\ngroup g0 all A\n{chain}",
        log_vkey(),
        wkey(1)
    );
    let last = MAX_GROUPS - 1;
    let p = parse(&format!("{text}quorum g{last}\n"));
    assert_eq!(p.groups().len(), MAX_GROUPS);
    assert_eq!(
        Policy::parse(format!("{text}group one-more any g{last}\nquorum none\n").as_bytes()),
        Err(PolicyError::TooManyGroups {
            line: MAX_GROUPS + 3
        })
    );
    // And it evaluates without recursion.
    let e = p.evaluate(&cosigned(&[(1, 77)])).unwrap();
    assert_eq!(e.quorum(), QuorumStatus::Met { freshness_time: 77 });
    assert_eq!(
        p.evaluate(&cosigned(&[])).unwrap().quorum(),
        QuorumStatus::NotMet
    );

    // The size limit is checked first.
    let mut big = vec![b'#'; MAX_POLICY_SIZE - "\nquorum none\n".len()];
    big.extend_from_slice(b"\nquorum none\n");
    assert_eq!(big.len(), MAX_POLICY_SIZE);
    parse(std::str::from_utf8(&big).unwrap());
    big.insert(0, b'#');
    assert_eq!(
        Policy::parse(&big),
        Err(PolicyError::TooLarge {
            size: MAX_POLICY_SIZE + 1,
            max: MAX_POLICY_SIZE
        })
    );
}

// ---------------------------------------------------------------------------
// Parsing: refused policies

#[test]
fn malformed_policies_are_refused() {
    for (input, want) in &refused_policies() {
        assert_eq!(
            Policy::parse(input.as_bytes()).as_ref(),
            Err(want),
            "{input:?}"
        );
        assert!(!want.to_string().is_empty());
    }
    // Bytes that are not UTF-8 at all, in a key field.
    assert_eq!(
        Policy::parse(b"log \xff\nquorum none\n"),
        Err(PolicyError::LogKey {
            line: 1,
            error: NoteError::KeyFormat
        })
    );
    assert_eq!(
        Policy::parse(b"witness A w+00000000+\xe9\nquorum none\n"),
        Err(PolicyError::WitnessKey {
            line: 1,
            error: NoteError::KeyFormat
        })
    );
}

/// A `PolicyName` is only made by the parser: take one from an accepted policy.
fn policy_name(s: &str) -> PolicyName {
    parse(&format!("witness {s} {}\nquorum none\n", wkey(1))).witnesses()[0]
        .name()
        .clone()
}

/// Refused policies and why, in the manner of Go's `sumdb/note` tables.
#[rustfmt::skip]
fn refused_policies() -> Vec<(String, PolicyError)> {
    use PolicyError as E;
    let log = log_vkey();
    let (a, b, c) = (wkey(1), wkey(2), wkey(3));
    let w2 = format!("witness A {a}\nwitness B {b}\n");
    let w3 = format!("{w2}witness C {c}\n");
    let pn = policy_name;
    let fields = |line, keyword| E::FieldCount { line, keyword };
    let byte = |line, byte| E::ForbiddenByte { line, byte };
    let unknown = |line, keyword: &str| E::UnknownKeyword { line, keyword: keyword.into() };
    let log_key = |line, error| E::LogKey { line, error };
    let witness_key = |line, error| E::WitnessKey { line, error };
    let undefined = |line, name| E::UndefinedName { line, name: pn(name) };
    let reused = |line, name| E::MemberReused { line, name: pn(name) };
    let duplicate = |line, name| E::DuplicateName { line, name: pn(name) };
    let threshold = |line| E::InvalidThreshold { line };
    let range = |line, k, members| E::ThresholdOutOfRange { line, k, members };
    let weak = NoteError::RefusedPublicKey(KeyRejection::Weak);
    let non_canonical = NoteError::RefusedPublicKey(KeyRejection::NonCanonical);

    let witness_other_name = CosignatureVerifier::new(
        name("elsewhere.example"),
        *witness(1).verifier().verifying_key(),
    )
    .to_vkey();
    let log_other_name = Ed25519Verifier::new(
        name("elsewhere.example/log"),
        *log_signer(1).verifier().verifying_key(),
    )
    .to_vkey();
    let long_name_log = Ed25519Verifier::new(name(&"a".repeat(256)), key(7).verifying_key()).to_vkey();
    let plain_witness = Ed25519Verifier::new(name("w1.example.org"), key(1001).verifying_key()).to_vkey();
    let bad_id = a.replacen(&witness(1).key_id().to_string(), "00000000", 1);
    let weak_log = raw_vkey(ORIGIN, SIG_ED25519, &weak_key());
    let odd_log = raw_vkey(ORIGIN, SIG_ED25519, &non_canonical_key());
    let weak_witness = raw_vkey("w.example", SIG_COSIGNATURE_V1, &weak_key());
    let odd_witness = raw_vkey("w.example", SIG_COSIGNATURE_V1, &non_canonical_key());

    vec![
        // The file as a whole.
        (String::new(), E::MissingQuorum),
        ("# nothing but a comment\n".into(), E::MissingQuorum),
        (w3.clone(), E::MissingQuorum),
        ("quorum none".into(), E::MissingFinalNewline),
        (format!("{w2}quorum A"), E::MissingFinalNewline),
        ("quorum none\r\n".into(), byte(1, b'\r')),
        ("# x\r\nquorum none\n".into(), byte(1, b'\r')),
        ("\nquorum\rnone\n".into(), byte(2, b'\r')),
        ("# \x0c\nquorum none\n".into(), byte(1, 0x0c)),
        ("# \x0b\nquorum none\n".into(), byte(1, 0x0b)),
        ("quorum none\n# \x7f\n".into(), byte(2, 0x7f)),
        ("quorum none\n\0".into(), byte(2, 0)),
        // Keywords are exact and case-sensitive; a comment is a whole line.
        ("quorom none\n".into(), unknown(1, "quorom")),
        ("Quorum none\n".into(), unknown(1, "Quorum")),
        ("quorum none\nlogs x\n".into(), unknown(2, "logs")),
        ("\u{a0}quorum none\n".into(), unknown(1, "\u{a0}quorum")),
        ("quorum none # why\n".into(), fields(1, "quorum")),
        (format!("witness A {a} https://w/ #c\nquorum A\n"), fields(1, "witness")),
        (format!("log {log} https://l/ #c\nquorum none\n"), fields(1, "log")),
        // Field counts.
        ("log\nquorum none\n".into(), fields(1, "log")),
        (format!("witness {a}\nquorum none\n"), fields(1, "witness")),
        ("witness\nquorum none\n".into(), fields(1, "witness")),
        (format!("{w2}group G\n"), fields(3, "group")),
        (format!("{w2}group G any\n"), fields(3, "group")),
        ("quorum\n".into(), fields(1, "quorum")),
        (format!("{w2}quorum A B\n"), fields(3, "quorum")),
        // Keys: type, strictness, ID, encoding, name.
        (format!("log {a}\nquorum none\n"), log_key(1, NoteError::UnsupportedKeyType(SIG_COSIGNATURE_V1))),
        (format!("witness A {log}\nquorum none\n"), witness_key(1, NoteError::UnsupportedKeyType(SIG_ED25519))),
        (format!("witness A {plain_witness}\nquorum none\n"), witness_key(1, NoteError::UnsupportedKeyType(SIG_ED25519))),
        (format!("log {weak_log}\nquorum none\n"), log_key(1, weak.clone())),
        (format!("log {odd_log}\nquorum none\n"), log_key(1, non_canonical.clone())),
        (format!("witness W {weak_witness}\nquorum none\n"), witness_key(1, weak)),
        (format!("witness W {odd_witness}\nquorum none\n"), witness_key(1, non_canonical)),
        (format!("witness A {bad_id}\nquorum none\n"), witness_key(1, NoteError::KeyIdMismatch { claimed: KeyId(0), computed: witness(1).key_id() })),
        ("witness A w+00000000+BAAA\nquorum none\n".into(), witness_key(1, NoteError::KeyLength { got: 2 })),
        ("witness A w+00000000+BA==\nquorum none\n".into(), witness_key(1, NoteError::KeyLength { got: 0 })),
        ("witness A w+00000000+BA\nquorum none\n".into(), witness_key(1, NoteError::KeyBase64)),
        ("witness A \u{e9}\nquorum none\n".into(), witness_key(1, NoteError::KeyFormat)),
        (format!("log {long_name_log}\nquorum none\n"), E::LogKeyName { line: 1, error: CheckpointError::OriginTooLong { len: 256 } }),
        // Duplicate keys, even under another name; duplicate names.
        (format!("log {log}\nlog {log}\nquorum none\n"), E::DuplicateLog { line: 2 }),
        (format!("log {log}\nlog {log_other_name}\nquorum none\n"), E::DuplicateLog { line: 2 }),
        (format!("witness A {a}\nwitness B {a}\nquorum none\n"), E::DuplicateWitness { line: 2 }),
        (format!("witness A {a}\nwitness B {witness_other_name}\nquorum none\n"), E::DuplicateWitness { line: 2 }),
        (format!("witness A {a}\nwitness A {b}\nquorum none\n"), duplicate(2, "A")),
        (format!("{w2}group A any B\nquorum none\n"), duplicate(3, "A")),
        (format!("{w2}group G any A\ngroup G any B\nquorum none\n"), duplicate(4, "G")),
        (format!("{w2}group G any A\nwitness G {c}\nquorum none\n"), duplicate(4, "G")),
        (format!("witness none {a}\nquorum none\n"), E::ReservedName { line: 1 }),
        (format!("{w2}group none any A\nquorum none\n"), E::ReservedName { line: 3 }),
        // Members and the quorum name only earlier definitions, once.
        (format!("{w2}group G any A D\nquorum G\n"), undefined(3, "D")),
        (format!("witness A {a}\ngroup G all A C\nwitness C {c}\nquorum G\n"), undefined(2, "C")),
        (format!("{w2}group G any A G\nquorum G\n"), undefined(3, "G")),
        (format!("{w2}group G any a\nquorum G\n"), undefined(3, "a")),
        (format!("{w2}quorum G\ngroup G any A\n"), undefined(3, "G")),
        (format!("{w2}quorum C\n"), undefined(3, "C")),
        (format!("{w2}group G any A none\nquorum G\n"), E::NoneMember { line: 3 }),
        (format!("{w2}group G 2 A B A\nquorum G\n"), reused(3, "A")),
        (format!("{w3}group G1 all A B\ngroup G2 all C B\nquorum G2\n"), reused(5, "B")),
        (format!("{w2}group G1 all A\ngroup G2 all G1\ngroup G3 any G1 B\nquorum G3\n"), reused(5, "G1")),
        // Thresholds: 1 <= k <= members, canonical decimal.
        (format!("{w2}group G 0 A B\nquorum G\n"), range(3, 0, 2)),
        (format!("{w2}group G 3 A B\nquorum G\n"), range(3, 3, 2)),
        (format!("{w2}group G 18446744073709551615 A B\nquorum G\n"), range(3, u64::MAX, 2)),
        (format!("{w2}group G 18446744073709551616 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G 01 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G 00 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G +1 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G -1 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G 1.0 A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G All A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G two A B\nquorum G\n"), threshold(3)),
        (format!("{w2}group G \u{661} A B\nquorum G\n"), threshold(3)),
        // Exactly one quorum line.
        ("quorum none\nquorum none\n".into(), E::DuplicateQuorum { line: 2 }),
        (format!("{w2}quorum A\n# again\nquorum B\n"), E::DuplicateQuorum { line: 5 }),
    ]
}

// ---------------------------------------------------------------------------
// Evaluation

#[test]
fn two_of_three_counts_every_subset() {
    let p = two_of_three();
    for mask in 0u8..8 {
        let cosigs: Vec<(u16, u64)> = (0..3u16)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| (i + 1, 1_000 + u64::from(i) * 10))
            .collect();
        let e = p.evaluate(&cosigned(&cosigs)).unwrap();
        assert_eq!(e.cosigners().len(), cosigs.len());
        let mut times: Vec<u64> = cosigs.iter().map(|c| c.1).collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        let want = match times.get(1) {
            Some(&t) => QuorumStatus::Met { freshness_time: t },
            None => QuorumStatus::NotMet,
        };
        assert_eq!(e.quorum(), want, "mask {mask:03b}");
        assert_eq!(e.quorum().is_met(), cosigs.len() >= 2);
    }
    let e = p.evaluate(&cosigned(&[(3, 30), (1, 10)])).unwrap();
    // Cosigners are listed in policy order, whatever the note's order.
    assert_eq!(
        names(e.cosigners().iter().map(|c| c.witness.as_bytes())),
        names(["A", "C"])
    );
    assert_eq!(e.cosigners()[1].timestamp, 30);
    assert_eq!(e.checkpoint().origin.as_str(), ORIGIN);
}

#[test]
fn any_all_and_a_single_witness() {
    let ws = format!(
        "log {}\nwitness A {}\nwitness B {}\n",
        log_vkey(),
        wkey(1),
        wkey(2)
    );
    let any = parse(&format!("{ws}group G any A B\nquorum G\n"));
    let all = parse(&format!("{ws}group G all A B\nquorum G\n"));
    let one = parse(&format!("{ws}quorum B\n"));
    // Cosignatures, then the verdict of `any`, `all` and `quorum B`.
    type Case = (
        &'static [(u16, u64)],
        QuorumStatus,
        QuorumStatus,
        QuorumStatus,
    );
    let cases: &[Case] = &[
        (
            &[],
            QuorumStatus::NotMet,
            QuorumStatus::NotMet,
            QuorumStatus::NotMet,
        ),
        (
            &[(1, 5)],
            QuorumStatus::Met { freshness_time: 5 },
            QuorumStatus::NotMet,
            QuorumStatus::NotMet,
        ),
        (
            &[(2, 7)],
            QuorumStatus::Met { freshness_time: 7 },
            QuorumStatus::NotMet,
            QuorumStatus::Met { freshness_time: 7 },
        ),
        (
            &[(1, 5), (2, 7)],
            QuorumStatus::Met { freshness_time: 7 },
            QuorumStatus::Met { freshness_time: 5 },
            QuorumStatus::Met { freshness_time: 7 },
        ),
    ];
    for &(cosigs, want_any, want_all, want_one) in cases {
        let note = cosigned(cosigs);
        assert_eq!(
            any.evaluate(&note).unwrap().quorum(),
            want_any,
            "{cosigs:?}"
        );
        assert_eq!(
            all.evaluate(&note).unwrap().quorum(),
            want_all,
            "{cosigs:?}"
        );
        assert_eq!(
            one.evaluate(&note).unwrap().quorum(),
            want_one,
            "{cosigs:?}"
        );
    }
}

#[test]
fn quorum_none_requires_nothing() {
    let p = parse(&format!(
        "log {}\nwitness A {}\nquorum none\n",
        log_vkey(),
        wkey(1)
    ));
    for note in [cosigned(&[]), cosigned(&[(1, 9)])] {
        let q = p.evaluate(&note).unwrap().quorum();
        assert_eq!(q, QuorumStatus::NotRequired);
        assert!(q.is_met());
        assert_eq!(q.freshness_time(), None);
    }
    // Cosigners are still reported.
    assert_eq!(
        p.evaluate(&cosigned(&[(1, 9)])).unwrap().cosigners().len(),
        1
    );
}

/// The nested example of c2sp.org/tlog-policy: two of X1–X3 and one of Y1–Y3.
#[test]
fn nested_groups_follow_the_c2sp_example() {
    let p = parse(&c2sp_example());
    let cases: &[(&[u16], bool)] = &[
        (&[], false),
        (&[1, 2], false),
        (&[4, 5, 6], false),
        (&[1, 4], false),
        (&[1, 2, 3], false),
        (&[1, 2, 4], true),
        (&[2, 3, 6], true),
        (&[1, 3, 5, 6], true),
        (&[1, 2, 3, 4, 5, 6], true),
    ];
    for &(who, met) in cases {
        let cosigs: Vec<(u16, u64)> = who.iter().map(|&i| (i, 100 + u64::from(i))).collect();
        let e = p.evaluate(&cosigned(&cosigs)).unwrap();
        assert_eq!(e.quorum().is_met(), met, "{who:?}");
    }
}

/// Spec/witness-policy.md §4.2 on the example: X1 500, X2 100, X3 400, Y1 50,
/// Y2 700. The witnesses at or after 400 (X1, X3, Y2) still meet the quorum; at
/// or after 401 (X1, Y2) they do not.
#[test]
fn the_freshness_time_is_the_oldest_time_a_whole_quorum_vouches_for() {
    let p = parse(&c2sp_example());
    let e = p
        .evaluate(&cosigned(&[
            (1, 500),
            (2, 100),
            (3, 400),
            (4, 50),
            (5, 700),
        ]))
        .unwrap();
    assert_eq!(
        e.quorum(),
        QuorumStatus::Met {
            freshness_time: 400
        }
    );
    assert_eq!(e.quorum().freshness_time(), Some(400));
    assert!(satisfied(
        &p,
        &BTreeSet::from([b"X1".to_vec(), b"X3".to_vec(), b"Y2".to_vec()])
    ));
    assert!(!satisfied(
        &p,
        &BTreeSet::from([b"X1".to_vec(), b"Y2".to_vec()])
    ));
}

/// Whether `signed` (witness names) meets `p`'s quorum: the definition of
/// c2sp.org/tlog-policy, written independently of the evaluator.
fn satisfied(p: &Policy, signed: &BTreeSet<Vec<u8>>) -> bool {
    fn node(p: &Policy, name: &[u8], signed: &BTreeSet<Vec<u8>>) -> bool {
        match p.groups().iter().find(|g| g.name().as_bytes() == name) {
            Some(g) => {
                g.members()
                    .iter()
                    .filter(|m| node(p, m.as_bytes(), signed))
                    .count()
                    >= g.threshold()
            }
            None => signed.contains(name),
        }
    }
    p.quorum().is_none_or(|q| node(p, q.as_bytes(), signed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The evaluator's freshness time is the largest `T` such that the witnesses
    /// with cosignatures at `T` or later meet the quorum, by brute force.
    #[test]
    fn freshness_time_matches_its_definition(
        times in proptest::collection::vec(proptest::option::of(0u64..20), 6),
    ) {
        let p = parse(&c2sp_example());
        let cosigs: Vec<(u16, u64)> = times
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i as u16 + 1, (*t)?)))
            .collect();
        let e = p.evaluate(&cosigned(&cosigs)).unwrap();
        let witness_names = ["X1", "X2", "X3", "Y1", "Y2", "Y3"];
        let since = |t: u64| -> BTreeSet<Vec<u8>> {
            cosigs
                .iter()
                .filter(|c| c.1 >= t)
                .map(|c| witness_names[usize::from(c.0 - 1)].as_bytes().to_vec())
                .collect()
        };
        let best = cosigs.iter().map(|c| c.1).filter(|&t| satisfied(&p, &since(t))).max();
        let want = match best {
            Some(t) => QuorumStatus::Met { freshness_time: t },
            None => QuorumStatus::NotMet,
        };
        prop_assert_eq!(e.quorum(), want);
        prop_assert_eq!(e.quorum().is_met(), satisfied(&p, &since(0)));
        prop_assert_eq!(e.cosigners().len(), cosigs.len());
    }
}

#[test]
fn a_cosignature_that_does_not_verify_does_not_count() {
    let p = two_of_three();
    let note = checkpoint_signed_by(1);
    let text = Note::parse(&note).unwrap().text;
    let good_b = witness(2).sign(text.as_bytes(), 200).unwrap();
    let mut flipped = witness(1).sign(text.as_bytes(), 100).unwrap();
    flipped.signature[40] ^= 1;
    let mut moved = witness(1).sign(text.as_bytes(), 100).unwrap();
    moved.signature[7] ^= 1; // the timestamp is signed
    let other_text = witness(1)
        .sign(b"ledger.example.gov/egov\n1\nAAAA\n", 100)
        .unwrap();
    let short = NoteSignature {
        signature: flipped.signature[..71].to_vec(),
        ..flipped.clone()
    };
    for bad in [flipped, moved, other_text, short] {
        // The note is not rejected: the bad line is ignored.
        let e = p
            .evaluate(&with_lines(&note, [bad.clone(), good_b.clone()]))
            .unwrap();
        assert_eq!(
            names(e.cosigners().iter().map(|c| c.witness.as_bytes())),
            names(["B"])
        );
        assert_eq!(e.quorum(), QuorumStatus::NotMet);
        // A valid line of the same witness still counts, before or after it.
        let good_a = witness(1).sign(text.as_bytes(), 100).unwrap();
        let e = p
            .evaluate(&with_lines(&note, [bad.clone(), good_b.clone(), good_a]))
            .unwrap();
        assert_eq!(
            e.quorum(),
            QuorumStatus::Met {
                freshness_time: 100
            }
        );
    }
}

#[test]
fn the_newest_valid_cosignature_of_a_witness_counts() {
    let p = two_of_three();
    let note = checkpoint_signed_by(1);
    let text = Note::parse(&note).unwrap().text;
    let a = |t| witness(1).sign(text.as_bytes(), t).unwrap();
    let mut bad_new = a(900);
    bad_new.signature[70] ^= 1;
    let lines = [
        a(100),
        a(300),
        bad_new,
        witness(2).sign(text.as_bytes(), 500).unwrap(),
    ];
    let e = p.evaluate(&with_lines(&note, lines)).unwrap();
    assert_eq!(e.cosigners()[0].timestamp, 300);
    assert_eq!(
        e.quorum(),
        QuorumStatus::Met {
            freshness_time: 300
        }
    );
}

#[test]
fn unknown_signature_lines_are_ignored() {
    let p = two_of_three();
    let note = checkpoint_signed_by(1);
    let text = Note::parse(&note).unwrap().text;
    let stranger = witness(9).sign(text.as_bytes(), 50).unwrap();
    let plain = Ed25519Signer::new(name("w1.example.org"), key(1001)).sign(text.as_bytes());
    // A's name with another key: another key ID.
    let impostor = CosignatureSigner::new(name("w1.example.org"), key(4242))
        .sign(text.as_bytes(), 60)
        .unwrap();
    // A's key ID under another name.
    let renamed = NoteSignature {
        name: name("w1.example.net"),
        ..witness(1).sign(text.as_bytes(), 70).unwrap()
    };
    let garbage = NoteSignature {
        name: name("junk"),
        id: KeyId(7),
        signature: vec![1, 2, 3],
    };
    let b = witness(2).sign(text.as_bytes(), 80).unwrap();
    let c = witness(3).sign(text.as_bytes(), 90).unwrap();
    let e = p
        .evaluate(&with_lines(
            &note,
            [stranger, plain, impostor, renamed, garbage, b, c],
        ))
        .unwrap();
    assert_eq!(
        names(e.cosigners().iter().map(|c| c.witness.as_bytes())),
        names(["B", "C"])
    );
    assert_eq!(e.quorum(), QuorumStatus::Met { freshness_time: 80 });
}

#[test]
fn the_log_signature_is_required() {
    let p = two_of_three();
    let text = Note::parse(&checkpoint_signed_by(1)).unwrap().text;
    let cosigs = [(1u16, 1u64), (2, 2)].map(|(i, t)| witness(i).sign(text.as_bytes(), t).unwrap());

    // Signed by another key of the same origin: not a log of the policy.
    let other = with_lines(&checkpoint_signed_by(2), cosigs.clone());
    let origin = Origin::new(ORIGIN).unwrap();
    assert_eq!(
        p.evaluate(&other),
        Err(PolicyError::UnknownLog {
            origin: origin.clone()
        })
    );
    // Cosignatures alone.
    let only_witnesses = Note {
        text: text.clone(),
        signatures: cosigs.to_vec(),
    }
    .to_bytes();
    assert_eq!(
        p.evaluate(&only_witnesses),
        Err(PolicyError::UnknownLog {
            origin: origin.clone()
        })
    );
    // A bad log signature.
    let mut n = Note::parse(&cosigned(&[(1, 1), (2, 2)])).unwrap();
    n.signatures[0].signature[0] ^= 1;
    assert_eq!(
        p.evaluate(&n.to_bytes()),
        Err(PolicyError::Checkpoint(CheckpointError::Note(
            NoteError::InvalidSignature {
                name: name(ORIGIN),
                id: log_signer(1).key_id(),
            }
        )))
    );
    // Another origin.
    let elsewhere = Origin::new("elsewhere.example/log").unwrap();
    let signer = Ed25519Signer::new(elsewhere.key_name(), key(1));
    let foreign = sign_checkpoint(
        &Checkpoint::new(
            elsewhere.clone(),
            ledger_core::TreeSize(0),
            ledger_core::Hash::empty_tree(),
        ),
        &signer,
    );
    assert_eq!(
        p.evaluate(&foreign),
        Err(PolicyError::UnknownLog { origin: elsewhere })
    );
    // Not a note, not a checkpoint.
    assert!(matches!(
        p.evaluate(b"hello\n"),
        Err(PolicyError::Checkpoint(CheckpointError::Note(_)))
    ));
    assert!(matches!(
        p.evaluate(
            &Note {
                text: "x\n".into(),
                signatures: cosigs.to_vec()
            }
            .to_bytes()
        ),
        Err(PolicyError::Checkpoint(CheckpointError::TooFewLines { .. }))
    ));
}

#[test]
fn any_log_of_the_policy_may_sign() {
    let p = parse(&format!(
        "log {}\nlog {}\nwitness A {}\nquorum A\n",
        log_signer(2).verifier().to_vkey(),
        log_vkey(),
        wkey(1)
    ));
    for seed in [1, 2] {
        let note = checkpoint_signed_by(seed);
        let text = Note::parse(&note).unwrap().text;
        let e = p
            .evaluate(&with_lines(
                &note,
                [witness(1).sign(text.as_bytes(), 3).unwrap()],
            ))
            .unwrap();
        assert_eq!(e.quorum(), QuorumStatus::Met { freshness_time: 3 });
    }
    // A bad signature by one log key and a good one by the other: the good one wins.
    let mut n = Note::parse(&checkpoint_signed_by(2)).unwrap();
    n.signatures[0].signature[5] ^= 1;
    n.signatures.push(log_signer(1).sign(n.text.as_bytes()));
    assert_eq!(
        p.evaluate(&n.to_bytes()).unwrap().quorum(),
        QuorumStatus::NotMet
    );
}

#[test]
fn a_policy_without_logs_evaluates_with_a_log_key_from_elsewhere() {
    let p = parse(&format!("witness A {}\nquorum A\n", wkey(1)));
    let note = cosigned(&[(1, 42)]);
    assert_eq!(
        p.evaluate(&note),
        Err(PolicyError::UnknownLog {
            origin: Origin::new(ORIGIN).unwrap()
        })
    );
    let origin = Origin::new(ORIGIN).unwrap();
    let e = p
        .evaluate_with_log(&note, &origin, &log_signer(1).verifier())
        .unwrap();
    assert_eq!(e.quorum(), QuorumStatus::Met { freshness_time: 42 });
    assert!(matches!(
        p.evaluate_with_log(&note, &origin, &log_signer(2).verifier()),
        Err(PolicyError::Checkpoint(
            CheckpointError::MissingLogSignature | CheckpointError::Note(_)
        ))
    ));
}

// ---------------------------------------------------------------------------
// The upstream tlog-cosignature vector

const SUNLIGHT_WITNESS_VKEY: &str =
    "witness.example.org+b8a2cf20+BFLN3yikSfFkVAJtrnh/CiY3Zozkoy7clp+P7XB28qUN";
const SUNLIGHT_BODY: &str =
    "rome2026h1.example.org\n300\nlCkHUpkmVBEms2r2T1K6Og69+wUuuN3MIEW1/ezu2v0=\n";
const SUNLIGHT_LINE: &str = "\u{2014} witness.example.org uKLPIAAAAABpVGeAhm2bOvKc3LaB9PFN1ruG19Y5yqslmcAAbhftnn1Zznmo0LXFZq4LGvqKqLX8jWlwLKasxEGTLIqAVusneCBmBw==";
const SUNLIGHT_TIME: u64 = 1_767_139_200;

#[test]
fn the_sunlight_cosignature_verifies_through_ledger_core() {
    let v = CosignatureVerifier::from_vkey(SUNLIGHT_WITNESS_VKEY).unwrap();
    assert_eq!(v.key_id(), KeyId(0xb8a2cf20));
    let note = Note::parse(format!("{SUNLIGHT_BODY}\n{SUNLIGHT_LINE}\n").as_bytes()).unwrap();
    let [sig] = note.signatures.as_slice() else {
        panic!("one signature line");
    };
    assert_eq!((&sig.name, sig.id), (v.name(), v.key_id()));
    assert!(v.verify(SUNLIGHT_BODY.as_bytes(), &sig.signature));
    assert_eq!(cosignature_timestamp(&sig.signature), Some(SUNLIGHT_TIME));
    assert_eq!(v.signed_timestamp(&sig.signature), Some(SUNLIGHT_TIME));
    assert!(!v.verify(
        SUNLIGHT_BODY.replace("300", "301").as_bytes(),
        &sig.signature
    ));
    // The key is accepted as a policy witness.
    let p = parse(&format!(
        "witness skylight {SUNLIGHT_WITNESS_VKEY}\nquorum skylight\n"
    ));
    assert_eq!(p.witnesses()[0].verifier(), &v);
}

/// The same vector checked without ledger-core: the key ID, the signed message
/// built by hand, and ed25519-dalek's `verify_strict`.
#[test]
fn the_sunlight_cosignature_verifies_independently() {
    let parts: Vec<&str> = SUNLIGHT_WITNESS_VKEY.splitn(3, '+').collect();
    let raw_key = STANDARD.decode(parts[2]).unwrap();
    assert_eq!((raw_key.len(), raw_key[0]), (33, 0x04));
    let public: [u8; 32] = raw_key[1..].try_into().unwrap();

    let mut h = Sha256::new();
    h.update(b"witness.example.org\n\x04");
    h.update(public);
    let id = h.finalize();
    assert_eq!(hex::encode(&id[..4]), "b8a2cf20");
    assert_eq!(parts[1], "b8a2cf20");

    let b64 = SUNLIGHT_LINE.rsplit(' ').next().unwrap();
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(raw[..4], id[..4]);
    let time = u64::from_be_bytes(raw[4..12].try_into().unwrap());
    assert_eq!(time, SUNLIGHT_TIME);
    let signature = Signature::from_bytes(&raw[12..].try_into().unwrap());

    let message = format!("cosignature/v1\ntime {time}\n{SUNLIGHT_BODY}");
    let key = VerifyingKey::from_bytes(&public).unwrap();
    key.verify_strict(message.as_bytes(), &signature).unwrap();
    let wrong_time = format!("cosignature/v1\ntime {}\n{SUNLIGHT_BODY}", time + 1);
    assert!(
        key.verify_strict(wrong_time.as_bytes(), &signature)
            .is_err()
    );
}
