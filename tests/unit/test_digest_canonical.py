"""`canonical_bytes` writes exactly what the reference RFC 8785 implementation writes, and
refuses what it refuses: its fast path (the standard library's C JSON encoder, for plain
data) must never change an audit hash, an attestation or a fingerprint."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.domain.digest import _plain, canonical_bytes

# Characters where JSON encoders and RFC 8785 could part: controls, quotes, DEL, the line
# separators, a lone surrogate, characters on both sides of the surrogate range (RFC 8785
# sorts keys by UTF-16 code units, Python by code points), and an astral character.
_SPECIAL = ["\x00", "\x08", "\x1f", '"', "\\", "/", "\x7f", "\u2028", "\ud800", "\ue000",
            "\uffff", "\U0001f600", "é", "a", "Z", "_"]  # fmt: skip
_text = st.text(alphabet=st.one_of(st.sampled_from(_SPECIAL), st.characters()), max_size=8)
_keys = st.one_of(_text, st.text(alphabet="abcXYZ_09", max_size=6))
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_keys, inner, max_size=4),
        st.dictionaries(st.integers(), inner, min_size=1, max_size=2),
    ),
    max_leaves=20,
)


def _outcome(encode: Any, value: Any) -> tuple[str, object]:
    try:
        return ("ok", encode(value))
    except Exception as error:
        return ("refused", type(error))


@settings(max_examples=600, deadline=None)
@given(_values)
def test_every_value_is_written_or_refused_as_the_reference_does(value: Any) -> None:
    assert _outcome(canonical_bytes, value) == _outcome(lambda v: bytes(rfc8785.dumps(v)), value)


def test_plain_records_take_the_fast_path_and_the_rest_do_not() -> None:
    record = {"type": "HUMAN_REQUESTED", "seq": 5, "actor": {"id": "agent-1"},
              "payload": {"arguments": {"n": [1, 2, 3], "ok": True, "note": None,
                                        "text": "é \\u2028 \\n"}}}  # fmt: skip
    assert _plain(record)
    assert canonical_bytes(record) == rfc8785.dumps(record)
    for value in ({"cost": 0.5}, {"é": 1}, {"n": 2**53}, {1: "a"}, [b"bytes"]):
        assert not _plain(value)
