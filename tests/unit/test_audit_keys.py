"""Key handling: settings give a PEM inline or a file path; verifiers accept PEM or hex."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gantral.audit.checkpoint import (
    generate_key_pem,
    key_id,
    load_private_key,
    load_public_key,
    sign_checkpoint,
    verify_checkpoint,
)


def test_keys_load_from_inline_pem_files_and_hex(tmp_path: Path) -> None:
    private_pem, public_pem = generate_key_pem()
    key = load_private_key(private_pem)
    (tmp_path / "k.pem").write_text(private_pem)
    (tmp_path / "k.pub").write_text(public_pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected = key_id(key.public_key())
    for source in (public_pem, str(tmp_path / "k.pub"), raw.hex(), str(tmp_path / "k.pem")):
        assert key_id(load_public_key(source)) == expected
    assert key_id(load_private_key(str(tmp_path / "k.pem")).public_key()) == expected
    cp = sign_checkpoint(key, origin="o", size=1, root=b"\x00" * 32, timestamp="t")
    assert verify_checkpoint(cp, load_public_key(raw.hex())) is None


def test_non_ed25519_keys_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key(pem)
