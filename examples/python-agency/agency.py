#!/usr/bin/env python3
"""A government agency on another stack: sign and submit one statement to the
e-government audit ledger, with Python 3.11's standard library and the
`cryptography` package only.

What it does, and where each step is specified:

1. builds the statement, UTF-8 JSON with the fields of spec/entry.md §1.2. The
   bytes it builds are the bytes it signs, sends and the ledger keeps: nothing is
   re-serialized after signing (entry.md §1);
2. with a private payload (personal data), draws a 32-byte random salt and puts
   only the commitment in the statement (entry.md §4):
       hex(SHA-256("egov-ledger/v1/payload" || 0x00 || salt || payload));
3. signs "egov-ledger/v1/statement" || 0x00 || statement with Ed25519 (entry.md §3.2);
4. POSTs {statement, signature[, payload, salt]} to /v1/entries (spec/api.md §3.1),
   optionally with ?wait=checkpoint, and writes the receipt it gets back
   (spec/receipts.md), which `ledger-verify receipt` checks offline.

`read` reads an entry's private payload the only way the ledger allows
(spec/registry.md §6, spec/api.md): it signs an `access.payload.read` statement
(the entry, the official, the purpose, the legal basis, a case reference) and
POSTs it to /v1/payloads/read. The server records it as an access entry first,
then returns the payload and salt, which are checked here against the entry's
payload_commitment before the payload is written anywhere.

The secret key file has agency-client's format: the base64 of a 32-byte Ed25519
seed and a newline, so one key works with both tools.

Exit status: 0 appended (or already in the log with the same bytes), or the
payload was read and verified; 1 the server refused the statement (its error code
and message are printed); 2 bad command line or input; 3 the server could not be
reached or gave an unreadable answer; 4 appended (or read), but no receipt was
available to write; 5 the payload the server returned does not open the entry's
commitment (nothing was written; the read is recorded).
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import secrets
import sys
import urllib.error
import urllib.request

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:
    print(
        "error: the `cryptography` package is missing; install it with\n"
        "  python3 -m pip install -r examples/python-agency/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(2)

STATEMENT_LABEL = b"egov-ledger/v1/statement\x00"  # entry.md §3.2 (25 bytes)
PAYLOAD_LABEL = b"egov-ledger/v1/payload\x00"  # entry.md §4 (23 bytes)


class Failure(Exception):
    """An error to print before exiting with `status`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def read_key(path):
    """Reads an agency-client key file: base64 of a 32-byte Ed25519 seed."""
    try:
        with open(path, "rb") as f:
            seed = base64.b64decode(f.read().strip(), validate=True)
    except OSError as e:
        raise Failure(2, f"reading the key file: {e}") from e
    except ValueError as e:
        raise Failure(2, f"{path}: the key file must hold base64 of a 32-byte seed") from e
    if len(seed) != 32:
        raise Failure(2, f"{path}: the key file must hold base64 of a 32-byte seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes(key):
    """The 32-byte RFC 8032 public key."""
    return key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def keygen(out):
    """Writes a fresh key (mode 0600, never overwriting) and prints its public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise Failure(2, f"creating {out}: {e}") from e
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(seed).decode() + "\n")
    public = public_key_bytes(key)
    print(f"public key: {base64.b64encode(public).decode()}")
    print(f"key hash:   {hashlib.sha256(public).hexdigest()}")


def strict_object(text, what):
    """Parses a JSON object, refusing duplicate keys and NaN/Infinity, which the
    ledger's strict parser refuses too (entry.md §1.1)."""

    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k!r}")
            seen[k] = v
        return seen

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except ValueError as e:
        raise Failure(2, f"{what}: {e}") from e
    if not isinstance(value, dict):
        raise Failure(2, f"{what} must be a JSON object")
    return value


def now_utc():
    """The current time as RFC 3339 UTC to the second, as occurred_at wants it."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_statement(origin, args, obj, commitment):
    """The statement's bytes, fields in the order of the spec's examples
    (entry.md §1.3), compact, UTF-8. Any order and spacing would do: what
    counts is that these exact bytes are signed and sent."""
    fields = {
        "v": 1,
        "origin": origin,
        "agency": args.agency,
        "submission_id": args.submission_id or secrets.token_hex(16),
        "type": args.type,
        "channel": args.channel,
        "occurred_at": args.occurred_at or now_utc(),
    }
    if args.subject is not None:
        fields["subject"] = args.subject
    fields["object"] = obj
    if commitment is not None:
        fields["payload_commitment"] = commitment
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def call(method, url, body, timeout):
    """Sends one request; returns (status, parsed JSON answer). HTTP errors are
    turned into a Failure carrying the server's error code and message."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            err = json.loads(raw)["error"]
            detail = f"{err['code']}: {err['message']}"
        except (ValueError, KeyError, TypeError):
            detail = raw[:200].decode("utf-8", "replace") or e.reason
        raise Failure(1, f"the server refused the request: {e.code} {detail}") from e
    except (urllib.error.URLError, OSError) as e:
        raise Failure(3, f"cannot reach {url}: {e}") from e
    try:
        return status, json.loads(raw)
    except ValueError as e:
        raise Failure(3, f"{url} answered {status} with something that is not JSON") from e


def write_file(path, data):
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise Failure(2, f"writing {path}: {e}") from e


def submit(args):
    server = args.server.rstrip("/")
    key = read_key(args.key)
    if args.object is not None:
        obj = strict_object(args.object, "--object")
    else:
        try:
            with open(args.object_file, encoding="utf-8") as f:
                obj = strict_object(f.read(), args.object_file)
        except OSError as e:
            raise Failure(2, f"reading the object file: {e}") from e

    origin = args.origin
    if origin is None:
        if args.dry_run:
            raise Failure(2, "--dry-run needs --origin")
        origin = call("GET", f"{server}/v1/log", None, args.timeout)[1].get("origin")
        if not isinstance(origin, str):
            raise Failure(3, f"{server}/v1/log names no origin")

    payload = salt = commitment = None
    if args.payload is not None:
        try:
            with open(args.payload, "rb") as f:
                payload = f.read()
        except OSError as e:
            raise Failure(2, f"reading the payload: {e}") from e
        salt = secrets.token_bytes(32)
        commitment = hashlib.sha256(PAYLOAD_LABEL + salt + payload).hexdigest()

    statement = build_statement(origin, args, obj, commitment)
    signature = key.sign(STATEMENT_LABEL + statement)
    body = {
        "statement": base64.b64encode(statement).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    if payload is not None:
        body["payload"] = base64.b64encode(payload).decode()
        body["salt"] = salt.hex()
    if args.statement_out:
        write_file(args.statement_out, statement)
    if args.dry_run:
        print(json.dumps(body, indent=2))
        return 0

    query = "?wait=checkpoint" if args.wait else ""
    status, answer = call("POST", f"{server}/v1/entries{query}", body, args.timeout)
    try:
        index = answer["index"]
        leaf_hash = answer["leaf_hash"]
        duplicate = answer["duplicate"]
    except (KeyError, TypeError) as e:
        raise Failure(3, f"the server answered {status} without an index: {answer}") from e
    verb = "already in the log as" if duplicate else "appended as"
    print(f"{verb} entry {index} of {origin}")
    print(f"  index:         {index}")
    print(f"  leaf hash:     {leaf_hash}")
    print(f"  submission id: {json.loads(statement)['submission_id']}")
    if salt is not None:
        print(f"  payload salt:  {salt.hex()} (keep it with the payload: it opens the commitment)")

    if args.receipt_out:
        receipt = answer.get("receipt")
        if receipt is None:
            print(
                f"no receipt yet: fetch it later from {server}/v1/receipts/{index}",
                file=sys.stderr,
            )
            return 4
        write_file(args.receipt_out, receipt.encode("utf-8"))
        size = answer.get("checkpoint_size")
        print(f"receipt (checkpoint of size {size}) written to {args.receipt_out}")
        print(f"  check it offline: ledger-verify receipt {args.receipt_out} --vkey <log vkey>")
    return 0


def server_origin(server, args):
    """The log's origin: --origin, or the server's (GET /v1/log)."""
    if args.origin is not None:
        return args.origin
    origin = call("GET", f"{server}/v1/log", None, args.timeout)[1].get("origin")
    if not isinstance(origin, str):
        raise Failure(3, f"{server}/v1/log names no origin")
    return origin


def entry_commitment(server, index, timeout):
    """The payload_commitment of entry `index`, from the exact statement bytes
    that GET /v1/entries/{index} returns (spec/api.md §4.2). The server shows
    them; `ledger-verify inclusion --index` proves the entry is in the log."""
    _, answer = call("GET", f"{server}/v1/entries/{index}", None, timeout)
    try:
        statement = json.loads(base64.b64decode(answer["statement_b64"], validate=True))
    except (KeyError, TypeError, ValueError) as e:
        raise Failure(3, f"entry {index}: the server's answer has no readable statement") from e
    commitment = statement.get("payload_commitment") if isinstance(statement, dict) else None
    if not isinstance(commitment, str):
        raise Failure(2, f"entry {index} carries no payload commitment: it has no private payload")
    return commitment


def read_statement(origin, args):
    """The access.payload.read statement (spec/registry.md §6): channel G2G, every
    object field a string, no payload_commitment."""
    obj = {
        "entry": str(args.entry),
        "official": args.official,
        "purpose": args.purpose,
        "legal_basis": args.legal_basis,
    }
    if args.case is not None:
        obj["case"] = args.case
    fields = {
        "v": 1,
        "origin": origin,
        "agency": args.agency,
        # A fresh id for every read: the server hands a payload out once per
        # access entry.
        "submission_id": args.submission_id or f"read/{args.entry}/{secrets.token_hex(16)}",
        "type": "access.payload.read",
        "channel": "G2G",
        "occurred_at": now_utc(),
        "object": obj,
    }
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def open_payload(answer, entry, commitment):
    """The payload, if it is for `entry` and with its salt opens `commitment`,
    the commitment in the entry's statement (entry.md §4)."""
    try:
        payload = base64.b64decode(answer["payload"], validate=True)
        salt = bytes.fromhex(answer["salt"])
        returned_entry = answer["entry"]
    except (KeyError, TypeError, ValueError) as e:
        raise Failure(3, "the server's answer has no readable payload and salt") from e
    if returned_entry != entry:
        raise Failure(5, f"the server returned the payload of entry {returned_entry}, not {entry}")
    if len(salt) != 32 or hashlib.sha256(PAYLOAD_LABEL + salt + payload).hexdigest() != commitment:
        raise Failure(
            5,
            f"the returned payload and salt do not open entry {entry}'s commitment "
            f"{commitment}: the payload was NOT written",
        )
    return payload


def read(args):
    server = args.server.rstrip("/")
    key = read_key(args.key)
    if args.dry_run:
        if args.origin is None:
            raise Failure(2, "--dry-run needs --origin")
        statement = read_statement(args.origin, args)
        signature = key.sign(STATEMENT_LABEL + statement)
        print(json.dumps({
            "statement": base64.b64encode(statement).decode(),
            "signature": base64.b64encode(signature).decode(),
        }, indent=2))
        return 0
    origin = server_origin(server, args)
    commitment = entry_commitment(server, args.entry, args.timeout)
    statement = read_statement(origin, args)
    signature = key.sign(STATEMENT_LABEL + statement)
    body = {
        "statement": base64.b64encode(statement).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    out = None
    if args.out:
        # Personal data: a new file, readable by its owner only. Opened before
        # the read, so that a read (which is recorded) is never wasted.
        try:
            out = os.fdopen(os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except OSError as e:
            raise Failure(2, f"creating {args.out} (it must not exist): {e}") from e
    try:
        query = "?wait=checkpoint" if args.receipt_out else ""
        _, answer = call("POST", f"{server}/v1/payloads/read{query}", body, args.timeout)
        access = answer.get("access") if isinstance(answer, dict) else None
        if not isinstance(access, dict) or "index" not in access:
            raise Failure(3, "the server's answer names no access entry")
        print(f"read recorded as access entry {access['index']} of {origin}", file=sys.stderr)
        payload = open_payload(answer, args.entry, commitment)
    except Failure:
        if out is not None:
            out.close()
            os.unlink(args.out)
        raise
    print(f"payload checked: it opens the commitment that the server shows for entry {args.entry} (prove that entry with ledger-verify inclusion)", file=sys.stderr)
    if out is not None:
        with out:
            out.write(payload)
        print(f"{len(payload)} bytes written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
    if args.receipt_out:
        receipt = access.get("receipt")
        if receipt is None:
            print(
                f"no receipt yet: fetch it later from {server}/v1/receipts/{access['index']}",
                file=sys.stderr,
            )
            return 4
        write_file(args.receipt_out, receipt.encode("utf-8"))
        print(f"access receipt written to {args.receipt_out}", file=sys.stderr)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    k = commands.add_parser("keygen", help="make an Ed25519 key file (agency-client's format)")
    k.add_argument("--out", required=True, help="where to write the secret key (mode 0600)")

    s = commands.add_parser("submit", help="build, sign and append one statement")
    s.add_argument("--server", default=os.environ.get("LEDGER_SERVER", "http://127.0.0.1:8080"))
    s.add_argument("--origin", help="the log's origin (default: the origin of GET /v1/log)")
    s.add_argument("--key", required=True, help="the agency's secret key file")
    s.add_argument("--agency", required=True, help="the agency id, as registered")
    s.add_argument("--type", required=True, help="a dotted type such as decision.permit.granted")
    s.add_argument("--channel", required=True, choices=["G2C", "G2B", "G2G"])
    group = s.add_mutually_exclusive_group(required=True)
    group.add_argument("--object", help="the public facts, a JSON object")
    group.add_argument("--object-file", help="a file holding the object")
    s.add_argument("--subject", help="a public reference such as a case number")
    s.add_argument("--submission-id", help="unique per agency (default: 128 random bits, hex)")
    s.add_argument("--occurred-at", help="RFC 3339 UTC, e.g. 2026-11-28T08:00:00Z (default: now)")
    s.add_argument("--payload", help="a private payload file: only its commitment is logged")
    s.add_argument("--wait", action="store_true", help="wait for a checkpoint and a receipt")
    s.add_argument("--receipt-out", help="with --wait: write the receipt to this file")
    s.add_argument("--statement-out", help="write the exact signed statement bytes here")
    s.add_argument("--dry-run", action="store_true", help="print the request body, send nothing")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds per request")

    r = commands.add_parser(
        "read", help="read an entry's private payload: the read is recorded in the ledger first"
    )
    r.add_argument("--server", default=os.environ.get("LEDGER_SERVER", "http://127.0.0.1:8080"))
    r.add_argument("--origin", help="the log's origin (default: the origin of GET /v1/log)")
    r.add_argument("--key", required=True, help="the reading agency's secret key file")
    r.add_argument("--agency", required=True, help="the reading agency's id")
    r.add_argument("--entry", required=True, type=int, help="the entry whose payload to read")
    r.add_argument("--official", required=True, help="who reads it: a name or staff id (public)")
    r.add_argument("--purpose", required=True, help="why (public: no personal data)")
    r.add_argument("--legal-basis", required=True, help="the law that allows the read")
    r.add_argument("--case", help="a case or file reference (public)")
    r.add_argument("--submission-id", help="default: read/<entry>/<128 random bits>, new each time")
    r.add_argument("--out", help="write the payload to this new file (mode 0600), not stdout")
    r.add_argument("--receipt-out", help="wait for a checkpoint; write the access receipt here")
    r.add_argument("--dry-run", action="store_true", help="print the request body, send nothing")
    r.add_argument("--timeout", type=float, default=60.0, help="seconds per request")

    args = parser.parse_args(argv)
    if args.command == "submit" and args.receipt_out and not args.wait:
        parser.error("--receipt-out needs --wait")
    if args.command == "read" and args.entry < 0:
        parser.error("--entry is an entry index (0 or more)")
    try:
        if args.command == "keygen":
            keygen(args.out)
            return 0
        if args.command == "read":
            return read(args)
        return submit(args)
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        return e.status


if __name__ == "__main__":
    sys.exit(main())
