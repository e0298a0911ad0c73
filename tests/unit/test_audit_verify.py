"""The pure verifier: every kind of break in a chain or a bundle is named precisely."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.bundle import build_bundle
from gantral.audit.bundle_verify import verify_bundle
from gantral.audit.checkpoint import sign_checkpoint
from gantral.audit.closures import closed_chain_id, is_governed_chain, unsealed_problems
from gantral.audit.encoding import GENESIS, chain_hash, encode_body
from gantral.audit.merkle import MerkleTree
from gantral.audit.rows import EventRow, SealRow
from gantral.audit.testing import make_events
from gantral.audit.verify import verify_chain, verify_checkpoints, verify_log_indices


def _chain(iid: str, n: int, offset: int = 0) -> list[EventRow]:
    rows, prev = [], GENESIS
    for i, event in enumerate(make_events(iid, n)):
        body = encode_body(event, None)
        digest = chain_hash(prev, body)
        rows.append(EventRow(offset + i, iid, event.seq, str(event.type), body, prev, digest))
        prev = digest
    return rows


def _seal(rows: list[EventRow]) -> SealRow:
    return SealRow(rows[-1].instance_id, rows[-1].seq, rows[-1].log_index, rows[-1].hash)


def _codes(problems: list[object]) -> set[str]:
    return {p.code for p in problems}  # type: ignore[attr-defined]


def test_a_good_chain_verifies() -> None:
    rows = _chain("i1", 6)
    assert verify_chain("i1", rows, _seal(rows)) == []


def test_breaks_are_named_with_instance_and_seq() -> None:
    rows = _chain("i1", 6)
    seal = _seal(rows)
    body = rows[2].body.replace(b'"n":3', b'"n":4')
    problems = verify_chain("i1", [*rows[:2], replace(rows[2], body=body), *rows[3:]], seal)
    assert _codes(problems) == {"hash_mismatch"}
    assert str(problems[0]).startswith("instance i1 seq 3: ")
    assert "missing_event" in _codes(verify_chain("i1", rows[:2] + rows[3:], seal))
    assert "truncated" in _codes(verify_chain("i1", rows[:4], seal))
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    assert "broken_link" in _codes(verify_chain("i1", swapped, seal))
    assert "seal_record_missing" in _codes(verify_chain("i1", rows, None))
    other = _chain("i2", 6)
    assert "misplaced_event" in _codes(verify_chain("i1", [*rows[:5], other[5]], seal))


def test_log_holes_and_checkpoint_mismatches_are_found() -> None:
    assert verify_log_indices([0, 1, 2]) == []
    assert _codes(verify_log_indices([0, 2])) == {"log_hole"}
    rows = _chain("i1", 4) + _chain("i2", 4, offset=4)
    tree = MerkleTree(r.hash for r in rows)
    key = Ed25519PrivateKey.generate()
    cp = sign_checkpoint(key, origin="o", size=8, root=tree.root(), timestamp="t")
    assert verify_checkpoints(tree, [("db", cp)], key.public_key(), "o") == []
    shorter = MerkleTree(r.hash for r in rows[:4])
    assert _codes(verify_checkpoints(shorter, [("db", cp)], None, "o")) == {"log_truncated"}
    changed = MerkleTree([r.hash for r in rows[:7]] + [b"x" * 32])
    assert _codes(verify_checkpoints(changed, [("db", cp)], None, "o")) == {"root_mismatch"}
    other = Ed25519PrivateKey.generate().public_key()
    assert _codes(verify_checkpoints(tree, [("db", cp)], other, "o")) == {"bad_signature"}
    # Rotation: any of the trusted keys; none of them is a bad signature, never a pass.
    assert verify_checkpoints(tree, [("db", cp)], [other, key.public_key()], "o") == []
    assert _codes(verify_checkpoints(tree, [("db", cp)], [], "o")) == {"bad_signature"}


def test_a_checkpoint_of_another_origin_fails() -> None:
    rows = _chain("i1", 3)
    tree = MerkleTree(r.hash for r in rows)
    key = Ed25519PrivateKey.generate()
    elsewhere = sign_checkpoint(key, origin="other-log", size=3, root=tree.root(), timestamp="t")
    problems = verify_checkpoints(tree, [("db", elsewhere)], key.public_key(), "gantral-audit")
    assert _codes(problems) == {"wrong_origin"}
    assert "origin 'other-log', expected 'gantral-audit'" in str(problems[0])
    # The default origin is checked too: no caller gets an unchecked origin by omission.
    assert _codes(verify_checkpoints(tree, [("db", elsewhere)], key.public_key())) == {
        "wrong_origin"
    }


def test_bundle_verifies_offline_and_every_edit_is_caught() -> None:
    key = Ed25519PrivateKey.generate()
    bundle = _bundle(key)
    assert verify_bundle(bundle, key.public_key(), "o") == []
    assert verify_bundle(bundle, Ed25519PrivateKey.generate().public_key(), "o")

    def edited(path: str) -> dict[str, object]:
        forged = copy.deepcopy(bundle)
        if path == "body":
            forged["events"][1]["body"] = forged["events"][1]["body"].replace('"n":2', '"n":5')
        elif path == "drop":
            del forged["events"][2]
        elif path == "decisions":
            forged["decisions"] = []
        elif path == "proof":
            forged["inclusion"][0]["proof"][0] = "00" * 32
        elif path == "root":
            forged["checkpoint"]["root"] = "11" * 32
        return forged

    for path in ("body", "drop", "decisions", "proof", "root"):
        assert verify_bundle(edited(path), key.public_key(), "o"), path


def _bundle(key: Ed25519PrivateKey, origin: str = "o") -> dict[str, Any]:
    rows = _chain("noise", 3) + _chain("i1", 6, offset=3)
    tree = MerkleTree(r.hash for r in rows)
    cp = sign_checkpoint(key, origin=origin, size=tree.size, root=tree.root(), timestamp="t")
    mine = rows[3:]
    bundle: dict[str, Any] = json.loads(json.dumps(build_bundle("i1", mine, _seal(mine), cp, tree)))
    return bundle


def test_bundle_origin_and_keys() -> None:
    key = Ed25519PrivateKey.generate()
    elsewhere = _bundle(key, origin="other-log")
    assert _codes(verify_bundle(elsewhere, key.public_key(), "o")) == {"wrong_origin"}
    other = Ed25519PrivateKey.generate().public_key()
    assert verify_bundle(_bundle(key), [other, key.public_key()], "o") == []
    # No key: everything but the signature is checked (the caller says so).
    assert verify_bundle(_bundle(key), None, "o") == []
    assert _codes(verify_bundle(_bundle(key), other, "o")) == {"bad_signature"}


@pytest.mark.parametrize(
    "doc", [[], "a string", None, 42, ["format"]], ids=["list", "str", "null", "int", "list2"]
)
def test_a_bundle_that_is_not_an_object_is_a_clear_problem(doc: object) -> None:
    problems = verify_bundle(doc, Ed25519PrivateKey.generate().public_key())
    assert _codes(problems) == {"bad_bundle"}
    assert "a bundle is a JSON object" in problems[0].message


def test_malformed_bundle_fields_are_problems_not_exceptions() -> None:
    key = Ed25519PrivateKey.generate()

    def broken(edit: str) -> dict[str, Any]:
        doc = _bundle(key)
        if edit == "events":
            doc["events"] = 7
        elif edit == "event":
            doc["events"][0] = "x"
        elif edit == "body":
            doc["events"][0]["body"] = "not json"
        elif edit == "body_list":
            doc["events"][0]["body"] = "[1, 2]"
        elif edit == "checkpoint":
            doc["checkpoint"] = {"size": "many"}
        elif edit == "root":
            doc["checkpoint"]["root"] = "zz"
        elif edit == "inclusion":
            doc["inclusion"] = {"a": 1}
        elif edit == "seal":
            doc["seal"] = ["x"]
        return doc

    for edit in ("events", "event", "body", "body_list", "checkpoint", "root", "inclusion", "seal"):
        problems = verify_bundle(broken(edit), key.public_key(), "o")
        assert problems, edit
        assert all(p.code for p in problems), edit


def test_an_unsealed_chain_is_a_problem_when_closed_outside_or_too_old() -> None:
    rows = _chain("i1", 3)
    started = datetime.fromisoformat(json.loads(rows[0].body)["at"].replace("Z", "+00:00"))
    month = timedelta(days=30)
    # Open and young: nothing to report (an instance may wait for a human).
    assert unsealed_problems("i1", rows, [], month, started + timedelta(days=1)) == []
    assert unsealed_problems("i1", rows, [], None, started + timedelta(days=999)) == []
    [(code, message, seq)] = unsealed_problems("i1", rows, [], month, started + timedelta(days=31))
    assert code == "unsealed_too_old" and seq == 3 and "30 day(s)" in message
    record = {"status": "TERMINATED", "run_id": "r-1", "closed_at": "2026-01-02T00:00:00Z"}
    chain = closed_chain_id("i1", "r-1")
    [(code, message, seq)] = unsealed_problems(
        "i1", rows, [(chain, record)], month, started + timedelta(days=1)
    )
    assert code == "closed_unsealed" and seq == 3
    assert "TERMINATED" in message and "r-1" in message and chain in message
    # Record chains, history chains and access-log segments are not instances of their own.
    assert is_governed_chain("inst_1")
    assert not is_governed_chain(chain) and not is_governed_chain("gantral-history-inst_1")
    assert not is_governed_chain("gantral-access-log-e-000001")
    assert closed_chain_id("i1", None) == "gantral-access-log-closed-i1-history-lost"
