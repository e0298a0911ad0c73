"""Attestation keys from settings: the API's signer, the worker's and the sink's anchors."""

from __future__ import annotations

from gantral.attestation import Attestor, TrustAnchors
from gantral.audit.checkpoint import load_private_key, load_verification_keys
from gantral.settings import Settings

__all__ = ["anchors_from", "attestor_from"]


def attestor_from(settings: Settings) -> Attestor:
    value = settings.attestation.signing_key.get_secret_value()
    if not value:
        raise RuntimeError(
            "GANTRAL_ATTESTATION__SIGNING_KEY is required: the API signs every call it "
            "relays to Temporal (generate one with `gantral audit keygen`)"
        )
    id_secret = settings.attestation.id_secret.get_secret_value()
    return Attestor(load_private_key(value), id_secret=id_secret.encode() or None)


def anchors_from(settings: Settings) -> TrustAnchors:
    """Every trusted public key. None at all refuses to start: nothing could be verified."""
    # Private key material is refused here: the worker and the sink must not hold it.
    keys = load_verification_keys(settings.attestation.public_keys)
    private = settings.attestation.signing_key.get_secret_value()
    if private:
        keys.append(load_private_key(private).public_key())
    if not keys:
        raise RuntimeError(
            "GANTRAL_ATTESTATION__PUBLIC_KEYS is required: the API's public key(s), so "
            "calls that did not come through the API are refused"
        )
    return TrustAnchors.of(keys)
