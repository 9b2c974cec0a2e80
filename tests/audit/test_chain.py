"""The pure chain core: canonical JSON, RFC 6962 golden vectors, proofs, checkpoints."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import chain

# Certificate Transparency / RFC 6962 reference data (the leaves and tree heads published
# with the CT reference implementation and transparency-dev/merkle testonly), used as data.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
LEAF_HASHES = [chain.leaf_hash(d) for d in CT_LEAVES]


def test_roots_match_the_rfc6962_reference_for_every_size() -> None:
    for size, want in enumerate(CT_ROOTS):
        assert chain.merkle_root(LEAF_HASHES[:size]).hex() == want


@pytest.mark.parametrize(("index", "size", "want"), CT_INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, want: list[str]) -> None:
    proof = chain.inclusion_proof(LEAF_HASHES, index, size)
    assert [p.hex() for p in proof] == want
    root = bytes.fromhex(CT_ROOTS[size])
    assert chain.inclusion_verify(
        leaf=LEAF_HASHES[index], index=index, size=size, proof=proof, root=root
    )
    assert not chain.inclusion_verify(
        leaf=LEAF_HASHES[index], index=index + 1, size=size, proof=proof, root=root
    )


@pytest.mark.parametrize(("old", "new", "want"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, want: list[str]) -> None:
    proof = chain.consistency_proof(LEAF_HASHES, old, new)
    assert [p.hex() for p in proof] == want
    args = {
        "old_size": old,
        "new_size": new,
        "old_root": bytes.fromhex(CT_ROOTS[old]),
        "new_root": bytes.fromhex(CT_ROOTS[new]),
    }
    assert chain.consistency_verify(**args, proof=proof)
    assert not chain.consistency_verify(**args, proof=proof[:-1])
    assert not chain.consistency_verify(**{**args, "old_root": bytes(32)}, proof=proof)


def test_every_proof_verifies_and_every_mangled_one_fails_up_to_40_leaves() -> None:
    leaves = [chain.leaf_hash(bytes([i, i * 7 % 256])) for i in range(40)]
    roots = [chain.merkle_root(leaves[:n]) for n in range(41)]
    for n in range(1, 41):
        for i in range(n):
            proof = chain.inclusion_proof(leaves, i, n)
            assert chain.inclusion_verify(
                leaf=leaves[i], index=i, size=n, proof=proof, root=roots[n]
            )
            if proof:
                bad = [*proof[:-1], bytes(32)]
                assert not chain.inclusion_verify(
                    leaf=leaves[i], index=i, size=n, proof=bad, root=roots[n]
                )
        for m in range(n + 1):
            proof = chain.consistency_proof(leaves, m, n)
            assert chain.consistency_verify(
                old_size=m, new_size=n, old_root=roots[m], new_root=roots[n], proof=proof
            )
            if 0 < m < n:
                assert not chain.consistency_verify(
                    old_size=m, new_size=n, old_root=roots[m - 1], new_root=roots[n], proof=proof
                )


@given(st.lists(st.binary(max_size=20), max_size=70))
@settings(max_examples=60, deadline=None)
def test_the_frontier_agrees_with_the_recursive_definition(data: list[bytes]) -> None:
    leaves = [chain.leaf_hash(d) for d in data]

    def mth(xs: list[bytes]) -> bytes:
        if not xs:
            return chain.EMPTY_ROOT
        if len(xs) == 1:
            return xs[0]
        k = chain._split(len(xs))
        return chain.node_hash(mth(xs[:k]), mth(xs[k:]))

    assert chain.merkle_root(leaves) == mth(leaves)


def test_canonical_json_is_sorted_compact_utf8_and_refuses_nan() -> None:
    assert (
        chain.canonical_json({"b": 1, "a": [1.0, 0.1, "é"]}) == '{"a":[1.0,0.1,"é"],"b":1}'.encode()
    )
    with pytest.raises(chain.CanonicalJsonError):
        chain.canonical_json({"x": float("nan")})
    with pytest.raises(chain.CanonicalJsonError):
        chain.canonical_load(b'{"b":1, "a":2}')


def test_canonical_json_without_the_walk_still_refuses_nan_and_objects() -> None:
    """`checked=True` (the audit service's pre-validated records) keeps the encoder's guards."""
    value = {"b": 1, "a": [1.0, 0.1, "é"]}
    assert chain.canonical_json(value, checked=True) == chain.canonical_json(value)
    for bad in ({"x": float("nan")}, {"x": float("inf")}, {"x": object()}):
        with pytest.raises(chain.CanonicalJsonError):
            chain.canonical_json(bad, checked=True)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_canonical_json_round_trips_to_the_same_bytes(value: object) -> None:
    body = chain.canonical_json(value)
    assert chain.canonical_json(chain.canonical_load(body)) == body


def test_a_checkpoint_signed_by_another_key_or_altered_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    cp = chain.checkpoint_sign(
        private_key=key,
        tree_size=3,
        root=bytes(32),
        chain_head="ab" * 32,
        time="2026-01-01T00:00:00Z",
    )
    assert chain.checkpoint_signature_ok(cp, key.public_key())
    assert not chain.checkpoint_signature_ok(cp, Ed25519PrivateKey.generate().public_key())
    altered = chain.Checkpoint.from_json({**cp.as_json(), "tree_size": 2})
    assert not chain.checkpoint_signature_ok(altered, key.public_key())
