//! Personal data on the real binaries (issue #13; spec/api.md §5, registry.md
//! §6): the demo ledger holds citizens' data in private payloads.
//!
//! - Anonymous requests for every index get no personal data, from any route.
//! - The licensing office's official reads a permit's payload with
//!   `agency-client read-payload`: the payload opens the commitment, and the
//!   read is an entry that `ledger-verify accesses` shows, verified.
//! - Another agency without a grant is refused, and nothing is appended.
//! - The licensing office erases the payload: 410 from then on, the plaintext
//!   is in no file of the data directory, `ledger-verify replay` passes, and a
//!   receipt taken before the erasure still verifies.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Server, binary};
use serde_json::Value;

/// The personal data the demo puts in its payloads (ledger-server demo.rs).
const PERSONAL: [&str; 4] = [
    "Siti Rahmawati",
    "3174012345678901",
    "Budi Santoso",
    "3171098765432109",
];

fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn json(url: &str) -> Value {
    let (s, body) = get(url);
    assert_eq!(s, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn run(bin: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(binary(bin))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(p.display().to_string());
        }
    }
    hits
}

fn no_personal_data(what: &str, body: &str) {
    for p in PERSONAL {
        assert!(!body.contains(p), "{what} reveals {p:?}: {body}");
    }
}

#[test]
fn personal_data_is_read_only_through_recorded_access_and_erasure_keeps_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let server = Server::start(&["demo"], cwd);
    let url = server.url.clone();
    let demo = cwd.join("ledger-demo");
    let vkey_file = demo.join("log.vkey");
    let vkey_file = vkey_file.to_str().unwrap();
    let authority = std::fs::read_to_string(demo.join("authority.pub")).unwrap();
    let authority = authority.trim();
    let key = |agency: &str| {
        demo.join("agencies")
            .join(format!("{agency}.key"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let size = |url: &str| json(&format!("{url}/healthz"))["size"].as_u64().unwrap();

    // 1. Anonymous: no personal data for any index, from any read route.
    let n = size(&url);
    for i in 0..n + 2 {
        let (s, body) = get(&format!("{url}/v1/payloads/{i}"));
        assert!([401, 404, 410].contains(&s), "payload {i}: {s} {body}");
        no_personal_data(&format!("/v1/payloads/{i}"), &body);
        for path in [format!("/v1/entries/{i}"), format!("/v1/receipts/{i}")] {
            let (_, body) = get(&format!("{url}{path}"));
            no_personal_data(&path, &body);
        }
    }
    let (_, body) = get(&format!("{url}/v1/entries?limit=1000"));
    no_personal_data("search", &body);

    // The building permit with the applicant's data.
    let list = json(&format!(
        "{url}/v1/entries?agency=city-licensing&type=decision.permit.building"
    ));
    let permit = list["entries"][0]["index"].as_u64().unwrap();
    assert_eq!(list["entries"][0]["has_payload"], true);
    let (s, _) = get(&format!("{url}/v1/payloads/{permit}"));
    assert_eq!(s, 401);
    // A citizen's receipt, taken before anything else happens.
    let receipt = reqwest::blocking::get(format!("{url}/v1/receipts/{permit}"))
        .unwrap()
        .bytes()
        .unwrap();
    std::fs::write(cwd.join("permit.tlog-proof"), &receipt).unwrap();

    // 2. Another agency has no grant: refused, and nothing is appended.
    let before = size(&url);
    let out = run(
        "agency-client",
        &[
            "read-payload",
            "--server",
            &url,
            "--key",
            &key("finance-ministry"),
            "--agency",
            "finance-ministry",
            "--entry",
            &permit.to_string(),
            "--official",
            "Andi, budget analyst",
            "--purpose",
            "curiosity",
            "--legal-basis",
            "none",
        ],
        cwd,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("access_denied"), "{}", text(&out));
    no_personal_data("a refused read", &text(&out));
    assert_eq!(size(&url), before);

    // 3. The licensing office's official reads it: recorded, then released.
    let out = run(
        "agency-client",
        &[
            "read-payload",
            "--server",
            &url,
            "--key",
            &key("city-licensing"),
            "--agency",
            "city-licensing",
            "--entry",
            &permit.to_string(),
            "--official",
            "Dewi Lestari (NIP 198705122010012003)",
            "--purpose",
            "site inspection",
            "--legal-basis",
            "Regional Regulation 7/2021 art. 19",
            "--case",
            "PB-2026-000731",
            "--out",
            "applicant.json",
            "--receipt-out",
            "access.tlog-proof",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let payload = std::fs::read_to_string(cwd.join("applicant.json")).unwrap();
    assert!(payload.contains("Siti Rahmawati"), "{payload}");
    assert_eq!(size(&url), before + 1, "exactly one access entry");
    let access = before;
    let entry = json(&format!("{url}/v1/entries/{access}"));
    assert_eq!(entry["type"], "access.payload.read");
    assert_eq!(entry["statement"]["object"]["entry"], permit.to_string());
    // Its receipt verifies offline.
    let out = run(
        "ledger-verify",
        &["receipt", "access.tlog-proof", "--vkey-file", vkey_file],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));

    // 4. Who looked, verified against the checkpoint; with --scan, provably all.
    for scan in [false, true] {
        let mut args = vec![
            "accesses",
            "--log",
            &url,
            "--vkey-file",
            vkey_file,
            "--index",
        ];
        let p = permit.to_string();
        args.push(&p);
        if scan {
            args.push("--scan");
        }
        let out = run("ledger-verify", &args, cwd);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("Dewi Lestari"), "{t}");
        assert!(t.contains(&access.to_string()), "{t}");
        no_personal_data("ledger-verify accesses", &t);
    }

    // 5. Erasure by the owning agency; another agency may not.
    let erase = |agency: &str, submission: &str| {
        run(
            "agency-client",
            &[
                "erase-payload",
                "--submission-id",
                submission,
                "--server",
                &url,
                "--key",
                &key(agency),
                "--agency",
                agency,
                "--entry",
                &permit.to_string(),
                "--legal-basis",
                "UU 27/2022 art. 8",
            ],
            cwd,
        )
    };
    let out = erase("procurement-agency", "erase-1");
    assert!(!out.status.success());
    assert!(text(&out).contains("access_denied"), "{}", text(&out));
    let out = erase("city-licensing", "erase-1");
    assert!(out.status.success(), "{}", text(&out));
    let (s, body) = get(&format!("{url}/v1/payloads/{permit}"));
    assert_eq!(s, 410, "{body}");
    let listed = json(&format!("{url}/v1/entries/{permit}/accesses"));
    let erased_by = listed["erased_by"].as_u64().expect("erased_by");
    assert!(body.contains(&erased_by.to_string()));
    // The same statement again is idempotent; a second erasure is refused.
    let out = erase("city-licensing", "erase-2");
    assert!(!out.status.success(), "a second erasure");
    assert!(text(&out).contains("payload_erased"), "{}", text(&out));

    // The plaintext is in no file of the data directory.
    for p in PERSONAL {
        assert_eq!(
            files_containing(&demo, p.as_bytes()),
            Vec::<String>::new(),
            "{p}"
        );
    }

    // 6. Every proof stands: the full replay, and the citizen's old receipt.
    let out = run(
        "ledger-verify",
        &[
            "replay",
            "--log",
            &url,
            "--vkey-file",
            vkey_file,
            "--authority-key",
            authority,
        ],
        cwd,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(
        "ledger-verify",
        &["receipt", "permit.tlog-proof", "--vkey-file", vkey_file],
        cwd,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(server);
}
