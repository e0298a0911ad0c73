"""C2SP text proofs: c2sp.org/tlog-proof inclusion proofs and tlog-witness consistency
lines, against a known-answer vector (also in specs/audit.md) and malformed input."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.merkle import MerkleTree, verify_consistency, verify_inclusion
from gantral.audit.note import (
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint_note,
    verifier_key,
)
from gantral.audit.proofs import (
    ProofFormatError,
    encode_consistency_lines,
    encode_tlog_proof,
    parse_consistency_lines,
    parse_tlog_proof,
)

# The vector of specs/audit.md: leaves 0x00*32 .. 0x06*32, Ed25519 seed 0x00*32.
ORIGIN = "example.com/gantral"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))
TREE = MerkleTree(bytes([i]) * 32 for i in range(7))
INCLUSION_3_OF_7 = """c2sp.org/tlog-proof@v1
index 3
y6jFlhIL22neu9kj2Sy6lIvefH0GpGWhu32Y0xFgOPo=
KPuB5JaJfgzohvCGAjkukjm2XGWQQeUgIWPlitiY9EQ=
Hz+VhDQTGR/nUhmWtrHkFH1wOxcCxHWkeK0lpva0FbQ=

example.com/gantral
7
cxiIHEH848HeNkDfjowRDJP0P2hrdCBKnRrVuMccIEc=

\u2014 example.com/gantral womW75GIPlk/kkr0sDCMSPOOIkIzAqD2PE/rTM1ejyPZ2Lk5s+80BsxlGZE\
EtE55pR5FoesUz6pqM5lfWpEDkcDVMAs=
"""
CONSISTENCY_3_TO_7 = """y6jFlhIL22neu9kj2Sy6lIvefH0GpGWhu32Y0xFgOPo=
rKoEZjqFR6L3DGDMGPk3h5axPE+aCPcNatrmYjZbMMY=
KPuB5JaJfgzohvCGAjkukjm2XGWQQeUgIWPlitiY9EQ=
Hz+VhDQTGR/nUhmWtrHkFH1wOxcCxHWkeK0lpva0FbQ=
"""


def test_known_answer_inclusion() -> None:
    note = sign_checkpoint_note(KEY, origin=ORIGIN, size=7, root=TREE.root(7))
    assert encode_tlog_proof(3, TREE.inclusion_proof(3, 7), note) == INCLUSION_3_OF_7
    parsed = parse_tlog_proof(INCLUSION_3_OF_7)
    assert (parsed.index, parsed.checkpoint, parsed.extra) == (3, note, None)
    vkey = parse_verifier_key(verifier_key(ORIGIN, KEY.public_key()))
    body = open_checkpoint(parsed.checkpoint, [vkey], ORIGIN)
    assert verify_inclusion(TREE.leaf(3), 3, body.size, parsed.proof, body.root)


def test_known_answer_consistency() -> None:
    assert encode_consistency_lines(TREE.consistency_proof(3, 7)) == CONSISTENCY_3_TO_7
    proof = parse_consistency_lines(CONSISTENCY_3_TO_7)
    assert verify_consistency(3, 7, proof, TREE.root(3), TREE.root(7))
    assert encode_consistency_lines([]) == "" and parse_consistency_lines("") == []


def test_extra_round_trips() -> None:
    text = encode_tlog_proof(0, [], INCLUSION_3_OF_7.split("\n\n", 1)[1], extra=b"ctx")
    assert text.split("\n")[1] == "extra Y3R4"
    assert parse_tlog_proof(text).extra == b"ctx"


@pytest.mark.parametrize(
    "text",
    [
        INCLUSION_3_OF_7.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        INCLUSION_3_OF_7.replace("index 3", "index 03"),
        INCLUSION_3_OF_7.replace("index 3", "index -3"),
        INCLUSION_3_OF_7.replace("index 3\n", ""),
        INCLUSION_3_OF_7.replace("y6jF", "y6j*"),  # not base64
        INCLUSION_3_OF_7.replace("y6jFlhIL22neu9kj2Sy6lIvefH0GpGWhu32Y0xFgOPo=", "y6jF"),  # 3 bytes
        INCLUSION_3_OF_7.replace("Hz+VhDQTGR/nUhmWtrHkFH1wOxcCxHWkeK0lpva0FbQ=", "Hz+V\n"),
        INCLUSION_3_OF_7.split("\n\n", 1)[0],  # no checkpoint
    ],
)
def test_malformed_tlog_proofs_are_refused(text: str) -> None:
    with pytest.raises(ProofFormatError):
        parse_tlog_proof(text)


@pytest.mark.parametrize(
    "text",
    [
        CONSISTENCY_3_TO_7.rstrip("\n"),  # last line without its newline
        CONSISTENCY_3_TO_7 + "\n",  # an empty line
        "AAAA\n",  # not 32 bytes
        "y6jFlhIL22neu9kj2Sy6lIvefH0GpGWhu32Y0xFgOPp=\n",  # non-canonical padding bits
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64,  # more than 63 lines
    ],
)
def test_malformed_consistency_lines_are_refused(text: str) -> None:
    with pytest.raises(ProofFormatError):
        parse_consistency_lines(text)


def test_encoders_refuse_hashes_that_are_not_32_bytes() -> None:
    with pytest.raises(ProofFormatError):
        encode_consistency_lines([b"\x00" * 31])
    with pytest.raises(ProofFormatError):
        encode_tlog_proof(0, [b"\x00" * 33], "o\n1\nAA==\n\n\u2014 o x\n")
