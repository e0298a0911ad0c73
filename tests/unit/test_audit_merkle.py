"""RFC 9162 Merkle tree: reference vectors, and proofs checked against a naive tree."""

from __future__ import annotations

import hashlib

import pytest

from gantral.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency's reference leaves and roots (RFC 6962/9162 test data).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


def test_certificate_transparency_reference_roots() -> None:
    tree = MerkleTree(bytes.fromhex(x) for x in CT_LEAVES)
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    assert tree.root(0) == EMPTY_ROOT


def test_roots_match_the_naive_definition_for_every_size() -> None:
    leaves = [bytes([i]) * 3 for i in range(70)]
    tree = MerkleTree(leaves)
    for n in range(71):
        assert tree.root(n) == _naive_root(leaves[:n])


def test_every_inclusion_proof_verifies_and_rejects_the_wrong_leaf() -> None:
    tree = MerkleTree(bytes([i]) for i in range(40))
    for size in range(1, 41):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(tree.leaf(index), index, size, proof, root)
            wrong = (index + 1) % size
            if wrong != index:
                assert not verify_inclusion(tree.leaf(wrong), index, size, proof, root)


def test_every_consistency_proof_verifies_and_rejects_a_rewritten_prefix() -> None:
    leaves = [bytes([i]) for i in range(33)]
    tree = MerkleTree(leaves)
    for second in range(1, 34):
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            assert verify_consistency(first, second, proof, tree.root(first), tree.root(second))
            forged = MerkleTree([b"x", *leaves[1:first]]).root(first)
            assert not verify_consistency(first, second, proof, forged, tree.root(second))


def test_impossible_proofs_are_refused() -> None:
    tree = MerkleTree([b"a", b"b"])
    with pytest.raises(ProofError):
        tree.inclusion_proof(2)
    with pytest.raises(ProofError):
        tree.consistency_proof(0, 2)
    with pytest.raises(ProofError):
        tree.root(3)


def test_hashes_that_are_not_32_bytes_are_refused() -> None:
    """A proof element, leaf or root of another length is no SHA-256 hash (issue 26)."""
    tree = MerkleTree(bytes([i]) for i in range(5))
    proof = tree.inclusion_proof(2, 5)
    assert verify_inclusion(tree.leaf(2), 2, 5, proof, tree.root(5))
    longer = [proof[0] + b"\x00", *proof[1:]]
    assert not verify_inclusion(tree.leaf(2), 2, 5, longer, tree.root(5))
    assert not verify_inclusion(tree.leaf(2)[:31], 2, 5, proof, tree.root(5))
    assert not verify_inclusion(tree.leaf(2), 2, 5, proof, tree.root(5) + b"\x00")
    consistency = tree.consistency_proof(3, 5)
    assert verify_consistency(3, 5, consistency, tree.root(3), tree.root(5))
    shorter = [consistency[0][:16], *consistency[1:]]
    assert not verify_consistency(3, 5, shorter, tree.root(3), tree.root(5))
    assert not verify_consistency(3, 5, consistency, tree.root(3)[:31], tree.root(5))
    # Where no hashing happens, the old check compared the values alone and said yes.
    odd = b"\x07" * 31
    assert not verify_inclusion(odd, 0, 1, [], odd)
    assert not verify_consistency(4, 4, [], odd, odd)
