"""C2SP tlog-cosignature and tlog-witness: cosignatures (known answer, unknown signers
ignored, any changed byte caught) and the witness's answers (consistency, 409 with its
size, split views, refusals) over the real HTTP app."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from gantral.audit import cosignature
from gantral.audit.checkpoint import public_key_pem
from gantral.audit.cosignature import cosign, cosigner_key, parse_cosigner_key, verified_cosigners
from gantral.audit.merkle import MerkleTree, leaf_hash
from gantral.audit.note import (
    NoteError,
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint_note,
    verifier_key,
)
from gantral.audit.note_verify import check_tlog_proof
from gantral.audit.proofs import ProofFormatError, encode_tlog_proof
from gantral.audit.witness import (
    SIZE_CONTENT_TYPE,
    Witness,
    WitnessState,
    encode_add_checkpoint,
    parse_add_checkpoint,
)
from gantral.audit.witness_server import load_state, witness_app
from gantral.audit.witnessing import WitnessEndpoint, Witnessing
from gantral.cli.audit import audit_app

ORIGIN = "audit.example.com/gantral"
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WITNESS_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
WITNESS = "witness.example.com/w1"
LOG_VERIFIERS = [parse_verifier_key(verifier_key(ORIGIN, LOG_KEY.public_key()))]
T = 1_700_000_000

# Known answer: the witness above cosigning the spec's checkpoint below at time T.
KAT_CHECKPOINT = sign_checkpoint_note(
    LOG_KEY, origin=ORIGIN, size=2, root=hashlib.sha256(b"").digest()
)


def _tree(n: int, tag: str = "e") -> MerkleTree:
    return MerkleTree(leaf_hash(f"{tag}{i}".encode()) for i in range(n))


def _note(tree: MerkleTree, size: int) -> str:
    return sign_checkpoint_note(LOG_KEY, origin=ORIGIN, size=size, root=tree.root(size))


def _witness(state: WitnessState | None = None) -> Witness:
    return Witness(
        WITNESS, WITNESS_KEY, {ORIGIN: LOG_VERIFIERS}, state or WitnessState(), lambda: T
    )


def test_cosigner_key_and_line_follow_the_spec() -> None:
    raw = WITNESS_KEY.public_key().public_bytes_raw()
    expected_hash = hashlib.sha256(WITNESS.encode() + b"\n\x04" + raw).digest()[:4]
    vkey = cosigner_key(WITNESS, WITNESS_KEY.public_key())
    encoded = base64.b64encode(bytes([4]) + raw).decode()
    assert vkey == f"{WITNESS}+{expected_hash.hex()}+{encoded}"
    text = KAT_CHECKPOINT[: KAT_CHECKPOINT.rfind("\n\n") + 1]
    line = cosign(text, WITNESS, WITNESS_KEY, T)
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == expected_hash and int.from_bytes(blob[4:12], "big") == T
    message = f"cosignature/v1\ntime {T}\n{text}".encode()
    WITNESS_KEY.public_key().verify(blob[12:], message)  # raises if not the spec's message
    assert verified_cosigners(KAT_CHECKPOINT + line, [parse_cosigner_key(vkey)]) == {WITNESS: T}


def test_unknown_cosigners_are_ignored_and_a_bad_known_one_refused() -> None:
    text = KAT_CHECKPOINT[: KAT_CHECKPOINT.rfind("\n\n") + 1]
    stranger = cosign(text, "other.example/w", Ed25519PrivateKey.generate(), T)
    mine = cosign(text, WITNESS, WITNESS_KEY, T)
    known = [parse_cosigner_key(cosigner_key(WITNESS, WITNESS_KEY.public_key()))]
    assert verified_cosigners(KAT_CHECKPOINT + stranger, known) == {}
    assert verified_cosigners(KAT_CHECKPOINT + stranger + mine, known) == {WITNESS: T}
    # The log's own note still opens with the cosignatures on it (unknown to the log key).
    assert open_checkpoint(KAT_CHECKPOINT + stranger + mine, LOG_VERIFIERS, ORIGIN).size == 2
    forged = cosign(text.replace("\n2\n", "\n3\n"), WITNESS, WITNESS_KEY, T)
    with pytest.raises(NoteError):
        verified_cosigners(KAT_CHECKPOINT + forged, known)
    with pytest.raises(NoteError):  # a log key is not a witness key (type 0x01 != 0x04)
        parse_cosigner_key(verifier_key(ORIGIN, LOG_KEY.public_key()))


def test_changing_any_byte_of_a_cosigned_note_is_detected() -> None:
    known = [parse_cosigner_key(cosigner_key(WITNESS, WITNESS_KEY.public_key()))]
    text = KAT_CHECKPOINT[: KAT_CHECKPOINT.rfind("\n\n") + 1]
    cosigned = (KAT_CHECKPOINT + cosign(text, WITNESS, WITNESS_KEY, T)).encode()

    def holds(data: bytes) -> bool:
        try:
            note = data.decode()
            open_checkpoint(note, LOG_VERIFIERS, ORIGIN)
            return verified_cosigners(note, known) == {WITNESS: T}
        except (NoteError, UnicodeDecodeError):
            return False

    assert holds(cosigned)
    for i in range(len(cosigned)):
        for flip in (0x01, 0x02, 0x04, 0x20, 0x80):
            tampered = bytearray(cosigned)
            tampered[i] ^= flip
            assert not holds(bytes(tampered)), f"byte {i} ^ {flip:#x} went unnoticed"


def test_add_checkpoint_body_round_trips_and_is_strict() -> None:
    tree = _tree(5)
    proof = tree.consistency_proof(3, 5)
    body = encode_add_checkpoint(3, proof, _note(tree, 5))
    parsed = parse_add_checkpoint(body)
    assert (parsed.old_size, parsed.proof, parsed.note) == (3, proof, _note(tree, 5))
    assert parse_add_checkpoint(encode_add_checkpoint(0, [], "n\n")).proof == []
    for bad in (
        "old 03\n\nnote\n",
        "old -1\n\nnote\n",
        "new 3\n\nnote\n",
        "old 3\nAA==\n\nn\n",
        "old 3\n",
    ):
        with pytest.raises(ProofFormatError):
            parse_add_checkpoint(bad)


def test_witness_cosigns_consistent_checkpoints_and_refuses_the_rest() -> None:
    witness, tree = _witness(), _tree(8)
    first = witness.add_checkpoint(encode_add_checkpoint(0, [], _note(tree, 3)).encode())
    assert first.status == 200 and first.body.startswith(f"\u2014 {WITNESS} ")
    # Wrong old size: 409 with the witness's size.
    stale = witness.add_checkpoint(encode_add_checkpoint(0, [], _note(tree, 5)).encode())
    assert (stale.status, stale.body, stale.content_type) == (409, "3\n", SIZE_CONTENT_TYPE)
    good = encode_add_checkpoint(3, tree.consistency_proof(3, 5), _note(tree, 5))
    assert witness.add_checkpoint(good.encode()).status == 200
    # A forked log: size 7 of a tree whose first 5 leaves differ is not consistent.
    fork = _tree(7, "forged")
    forked = encode_add_checkpoint(5, fork.consistency_proof(5, 7), _note(fork, 7))
    assert witness.add_checkpoint(forked.encode()).status == 422
    # A split view: the same size with another root.
    split = witness.add_checkpoint(encode_add_checkpoint(5, [], _note(fork, 5)).encode())
    assert (split.status, split.body) == (409, "5\n")
    assert [r["why"] for r in witness.state.refused] == [
        "not consistent with size 5",
        "split view: same size, different root",
    ]
    assert witness.state.latest[ORIGIN] == (5, tree.root(5))
    # Unknown origin, no trusted signature, old size above the new one, garbage.
    other = sign_checkpoint_note(LOG_KEY, origin="other.example/log", size=1, root=tree.root(1))
    assert witness.add_checkpoint(encode_add_checkpoint(0, [], other).encode()).status == 404
    by_stranger = sign_checkpoint_note(
        Ed25519PrivateKey.generate(), origin=ORIGIN, size=6, root=tree.root(6)
    )
    assert witness.add_checkpoint(encode_add_checkpoint(5, [], by_stranger).encode()).status == 403
    assert (
        witness.add_checkpoint(encode_add_checkpoint(7, [], _note(tree, 6)).encode()).status == 400
    )
    assert witness.add_checkpoint(b"\xff\xfe").status == 400


async def test_the_log_side_recovers_a_lost_size_and_counts_the_quorum(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    witness = _witness(load_state(state))
    transport = httpx.ASGITransport(app=witness_app(witness, state))
    vkey = cosigner_key(WITNESS, WITNESS_KEY.public_key())
    async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
        endpoint = WitnessEndpoint.parse(vkey, "http://w/")
        tree = _tree(9)
        first = Witnessing([endpoint], 1, http)
        cosigned = await first.cosign(_note(tree, 4), tree, 4)
        assert cosigned is not None
        assert verified_cosigners(cosigned, [endpoint.cosigner]) == {WITNESS: T}
        # A restarted log knows no size: the 409 tells it, and it proves from there.
        restarted = Witnessing([endpoint], 1, http)
        assert await restarted.cosign(_note(tree, 9), tree, 9) is not None
        assert load_state(state).latest[ORIGIN] == (9, tree.root(9))
        # A forked log is refused, and not published as cosigned.
        fork = _tree(12, "forged")
        assert await restarted.cosign(_note(fork, 12), fork, 12) is None
        assert restarted.refusals[-1].status == 422
        # A quorum of two from one witness is refused at construction.
        with pytest.raises(ValueError):
            Witnessing([endpoint], 2, http)
        unreachable = WitnessEndpoint.parse(
            cosigner_key("down.example/w", Ed25519PrivateKey.generate().public_key()),
            "http://127.0.0.1:9",
        )
        async with httpx.AsyncClient(timeout=2) as real:
            both = Witnessing([unreachable], 1, real)
            assert await both.cosign(_note(tree, 9), tree, 9) is None
            assert both.refusals[-1].status == 0


def test_cosignature_module_exports() -> None:
    assert cosignature.ALG_COSIGNATURE_V1 == 0x04


# specs/audit.md §5c: the witness above cosigning the §8 note at time T.
SPEC_NOTE = (
    "gantral-audit\n2\ncK6ooGgOrO2Oe3uWg6t+I94k4OgUJgQw+jiLU70YyJo=\n\n\u2014 gantral-audit "
    "KJHg+ZuJg+Qs5RFUpjEGqQv1Uj3m4bedlbMekkB1TjB8aKBIX/k4zyN/QeZZLUlIaTKQa0plq7wmvvE3VzGMvEmwCgc=\n"
)
SPEC_WITNESS_VKEY = "witness.example.com/w1+7e6f4aaa+BNdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
SPEC_COSIGNATURE = (
    "\u2014 witness.example.com/w1 fm9KqgAAAABlU/EAkBvTtZGpMWbxzbK5A8vIgZ33CuFUnCDRDKEeMj2L10Kd"
    "vBONz2jqZkyHoPl126F6u1YaYIDhquB2qpLtU9dtBg==\n"
)


def test_spec_known_answer() -> None:
    assert cosigner_key(WITNESS, WITNESS_KEY.public_key()) == SPEC_WITNESS_VKEY
    text = SPEC_NOTE[: SPEC_NOTE.rfind("\n\n") + 1]
    assert cosign(text, WITNESS, WITNESS_KEY, T) == SPEC_COSIGNATURE
    known = [parse_cosigner_key(SPEC_WITNESS_VKEY)]
    assert verified_cosigners(SPEC_NOTE + SPEC_COSIGNATURE, known) == {WITNESS: T}


def _proof_file(tmp_path: Path, tree: MerkleTree, index: int, note: str) -> Path:
    path = tmp_path / "proof.txt"
    path.write_text(encode_tlog_proof(index, tree.inclusion_proof(index, tree.size), note))
    return path


def test_a_standard_inclusion_proof_is_checked_with_the_public_key_alone(tmp_path: Path) -> None:
    events = [bytes([i]) * 32 for i in range(7)]
    tree = MerkleTree(events)  # it hashes each event hash into its leaf
    note = _note(tree, 7)
    text = encode_tlog_proof(3, tree.inclusion_proof(3, 7), note)
    keys = [LOG_KEY.public_key()]
    assert check_tlog_proof(text, events[3], keys, ORIGIN) == ([], [])
    wrong_leaf, _ = check_tlog_proof(text, events[4], keys, ORIGIN)
    assert [p.code for p in wrong_leaf] == ["not_included"]
    other_key, _ = check_tlog_proof(text, events[3], [WITNESS_KEY.public_key()], ORIGIN)
    assert [p.code for p in other_key] == ["bad_proof"]
    # Witnesses: none on the note is INCONCLUSIVE when one is required, VALID once cosigned.
    cosigners = [parse_cosigner_key(cosigner_key(WITNESS, WITNESS_KEY.public_key()))]
    assert check_tlog_proof(text, events[3], keys, ORIGIN, cosigners, 1)[1] != []
    cosigned = note + cosign(note[: note.rfind("\n\n") + 1], WITNESS, WITNESS_KEY, T)
    proof = encode_tlog_proof(3, tree.inclusion_proof(3, 7), cosigned)
    assert check_tlog_proof(proof, events[3], keys, ORIGIN, cosigners, 1) == ([], [])
    # The command: VALID, INVALID (one changed byte of the path), INCONCLUSIVE.
    pub = tmp_path / "log.pub"
    pub.write_text(public_key_pem(LOG_KEY.public_key()))
    base = ["verify-proof", "--public-key", str(pub), "--origin", ORIGIN]
    path = _proof_file(tmp_path, tree, 3, cosigned)
    ok = CliRunner().invoke(audit_app, [*base, str(path), "--event-hash", events[3].hex()])
    assert ok.exit_code == 0 and ok.output.startswith("VALID"), ok.output
    lines = path.read_text().split("\n")
    lines[2] = ("B" if lines[2][0] == "A" else "A") + lines[2][1:]
    path.write_text("\n".join(lines))
    bad = CliRunner().invoke(audit_app, [*base, str(path), "--event-hash", events[3].hex()])
    assert bad.exit_code == 1 and "INVALID" in bad.output, bad.output
    path = _proof_file(tmp_path, tree, 3, note)
    vkey = cosigner_key(WITNESS, WITNESS_KEY.public_key())
    short = CliRunner().invoke(
        audit_app,
        [*base, str(path), "--event-hash", events[3].hex(), "--witness", vkey, "--witnesses", "1"],
    )
    assert short.exit_code == 3 and short.output.startswith("INCONCLUSIVE"), short.output


async def test_settings_refuse_an_unreachable_quorum_and_a_bad_witness_key() -> None:
    from pydantic import ValidationError

    from gantral.audit.note import NoteError
    from gantral.audit.service import witnessing
    from gantral.settings.audit import AuditSettings, WitnessSettings

    with pytest.raises(ValidationError):
        AuditSettings(witness_quorum=1)
    good = WitnessSettings(key=cosigner_key(WITNESS, WITNESS_KEY.public_key()), url="http://w/")
    async with httpx.AsyncClient() as http:
        assert witnessing(AuditSettings(), http) is None
        built = witnessing(AuditSettings(witnesses=[good], witness_quorum=1), http)
        assert built is not None and built.witnesses[0].url == "http://w"
        log_key = WitnessSettings(key=verifier_key(ORIGIN, LOG_KEY.public_key()), url="http://w")
        with pytest.raises(NoteError):  # a log's key (type 0x01) is no witness key
            witnessing(AuditSettings(witnesses=[log_key]), http)
