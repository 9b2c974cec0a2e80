"""Hash chain and Merkle checkpoints of the decision log (pure Python, no Django).

Why two structures: the hash chain (each record hash covers the previous hash) makes every
edit, deletion, insertion or reordering break the chain at the first touched record, so a
verifier can *name* it. The RFC 6962 Merkle tree over the same records, whose roots are
signed (Ed25519) at checkpoints with a key kept outside the database, defends against an
attacker who rewrites the whole chain from the edit onwards (they cannot re-sign) and
against a truncated tail (the signed tree size says how many records there were). It also
gives auditors compact inclusion and consistency proofs that other CT tooling understands.

This module is imported by `audit/verify_export.py`, which an external auditor runs without
Django; keep it free of any project import.

Canonical JSON (the bytes that are hashed): UTF-8, keys sorted, no insignificant whitespace
(`separators=(",", ":")`), non-ASCII kept as UTF-8 (not \\u escapes), integers as integers.
Floats are written with Python's shortest round-trip repr (what `json.dumps` emits, e.g.
`0.1`, `1e-07`, `1.0`), and NaN or infinities are refused: there is no JSON spelling for
them. The hash covers the exact stored bytes, so an auditor in any language needs only
SHA-256 over the line as written; re-canonicalising is an extra consistency check that the
Python verifiers do.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HASH_SIZE = 32
GENESIS_HASH = "0" * 64  # prev_hash of the first record
CHECKPOINT_VERSION = "cds-audit-checkpoint/1"


class CanonicalJsonError(ValueError):
    """A value has no canonical JSON form (NaN, infinity, a non-string key, an object)."""


# --- canonical JSON -----------------------------------------------------------------------


def _check_canonical(value: Any) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalJsonError(f"{value!r} has no JSON form")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError(f"object key {key!r} is not a string")
            _check_canonical(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_canonical(item)
    elif value is not None and not isinstance(value, str | int | bool):
        raise CanonicalJsonError(f"{type(value).__name__} is not a JSON value")


def _refuse_constant(name: str) -> Any:
    raise CanonicalJsonError(f"{name} has no JSON form")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any, *, checked: bool = False) -> bytes:
    """The one byte string a JSON value hashes as (see the module docstring).

    `checked=True` skips the recursive type walk for a value its caller has just built from
    JSON types with string keys (the audit service's record builder does; the walk is a
    third of the append's CPU inside the writer lock). The encoder still refuses NaN,
    infinities and non-JSON objects either way.
    """
    if not checked:
        _check_canonical(value)
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise CanonicalJsonError(str(exc)) from exc


def canonical_load(body: bytes | str) -> Any:
    """Parse a stored record and insist that it is in canonical form.

    Raises:
        CanonicalJsonError: the bytes are not JSON or not canonical (e.g. re-indented).
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = _DECODER.decode(text)
        # A parse yields only JSON types with string keys, so the recursive check of
        # canonical_json is not needed here (it would triple the verifier's time).
        again = _ENCODER.encode(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CanonicalJsonError(f"not JSON: {exc}") from exc
    if again != text:
        raise CanonicalJsonError("not in canonical form")
    return value


# --- hash chain ---------------------------------------------------------------------------


def record_hash(prev_hash: str, body: bytes) -> str:
    """hash_i = SHA-256(prev_hash_i (32 raw bytes) || canonical body_i), hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + body).hexdigest()


# --- RFC 6962 Merkle tree -----------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 MTH of one entry: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (RFC 6962 §2.1), n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, computed bottom-up in O(n) time, O(log n) memory."""
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    return merkle_root(leaves[start:end])


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1 for leaf `index` in the tree of the first `size`."""
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {size} (have {len(leaves)})")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, start + k), _subtree_root(leaves, start + k, end)]
        return [*path(m - k, start + k, end), _subtree_root(leaves, start, start + k)]

    return path(index, 0, size)


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2: the old tree is a prefix of the new one."""
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [_subtree_root(leaves, start, end)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, complete), _subtree_root(leaves, start + k, end)]
        return [*subproof(m - k, start + k, end, False), _subtree_root(leaves, start, start + k)]

    return subproof(old_size, 0, new_size, True)


def inclusion_verify(
    *, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: recompute the root from a leaf hash and its audit path."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_verify(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: the tree of `old_size` is a prefix of the tree of `new_size`."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleFrontier:
    """The right edge of an RFC 6962 tree: roots of its perfect subtrees, largest first.

    Appending a leaf and reading the root cost O(log n), so a checkpoint can extend the last
    one with only the new leaves, and a streaming verifier keeps O(log n) memory.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != bin(size).count("1"):
            raise ValueError("frontier does not match its size")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        self.nodes.append(leaf)
        self.size += 1
        # Each trailing 1-bit of the old size is a perfect subtree that now has a twin.
        merges = (self.size & -self.size).bit_length() - 1
        for _ in range(merges):
            right = self.nodes.pop()
            left = self.nodes.pop()
            self.nodes.append(node_hash(left, right))

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        result = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> MerkleFrontier:
        return MerkleFrontier(self.size, self.nodes)


# --- signed checkpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log had `tree_size` records, with this root and chain head."""

    tree_size: int
    root: str  # hex RFC 6962 root over the first tree_size record bodies
    chain_head: str  # hex hash-chain value of record tree_size (GENESIS_HASH for size 0)
    time: str  # ISO 8601 UTC
    key_id: str
    signature: str = ""  # hex Ed25519 signature over checkpoint_message()

    def message(self) -> bytes:
        return canonical_json(
            {
                "v": CHECKPOINT_VERSION,
                "tree_size": self.tree_size,
                "root": self.root,
                "chain_head": self.chain_head,
                "time": self.time,
                "key_id": self.key_id,
            }
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root,
            "chain_head": self.chain_head,
            "time": self.time,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            tree_size=int(data["tree_size"]),
            root=str(data["root"]),
            chain_head=str(data["chain_head"]),
            time=str(data["time"]),
            key_id=str(data["key_id"]),
            signature=str(data.get("signature", "")),
        )


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A short stable name for a signing key: the first 16 hex of SHA-256 of its raw bytes."""
    return hashlib.sha256(public_key_raw(key)).hexdigest()[:16]


def checkpoint_sign(
    *, private_key: Ed25519PrivateKey, tree_size: int, root: bytes, chain_head: str, time: str
) -> Checkpoint:
    unsigned = Checkpoint(
        tree_size=tree_size,
        root=root.hex(),
        chain_head=chain_head,
        time=time,
        key_id=key_id_of(private_key.public_key()),
    )
    signature = private_key.sign(unsigned.message()).hex()
    return Checkpoint(**{**unsigned.__dict__, "signature": signature})


def checkpoint_signature_ok(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != key_id_of(public_key):
        return False
    try:
        public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- streaming verification ---------------------------------------------------------------


@dataclass(frozen=True)
class ChainEntry:
    """One stored record as the verifier sees it: its columns and its canonical body."""

    seq: int
    body: bytes
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Problem:
    """The first thing wrong: which record (by expected sequence number) and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.reason}"


@dataclass
class VerifyReport:
    records: int = 0
    checkpoints_checked: int = 0
    problem: Problem | None = None
    last_hash: str = GENESIS_HASH
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class ChainVerifier:
    """The streaming verifier as a left fold: `feed` records in order, then `finish`.

    Its state (next seq, chain head, Merkle frontier, checkpoints still to meet) is small
    and `copy()`-able, so a long log can be verified in pieces, or resumed from the state
    after a prefix that is known to be byte-identical (the tamper tests do this).
    """

    def __init__(
        self,
        *,
        checkpoints: Sequence[Checkpoint] = (),
        public_key: Ed25519PublicKey | None = None,
        body_check: Any = None,
    ) -> None:
        self.body_check = body_check
        self.report = VerifyReport()
        self.pending: dict[int, Checkpoint] = {}
        self.frontier = MerkleFrontier()
        self.last_good_size = 0
        self.expected_seq = 1
        self.prev = GENESIS_HASH
        for cp in checkpoints:
            if public_key is None or not checkpoint_signature_ok(cp, public_key):
                self.report.problem = Problem(cp.tree_size, "checkpoint signature does not verify")
                return
            known = self.pending.get(cp.tree_size)
            if known is not None and (known.root, known.chain_head) != (cp.root, cp.chain_head):
                self.report.problem = Problem(
                    cp.tree_size, "two signed checkpoints disagree (fork)"
                )
                return
            self.pending[cp.tree_size] = cp
        empty = self.pending.pop(0, None)
        if empty is not None and empty.root != EMPTY_ROOT.hex():
            self.report.problem = Problem(0, "empty-tree checkpoint has a wrong root")

    def copy(self) -> ChainVerifier:
        twin = object.__new__(ChainVerifier)
        twin.__dict__.update(self.__dict__)
        twin.report = VerifyReport(
            records=self.report.records,
            checkpoints_checked=self.report.checkpoints_checked,
            problem=self.report.problem,
        )
        twin.pending = dict(self.pending)
        twin.frontier = self.frontier.copy()
        return twin

    def feed(self, entry: ChainEntry) -> bool:
        """Check one record; False once a problem is found (further records are ignored)."""
        if self.report.problem is not None:
            return False
        seq = self.expected_seq
        problem = _entry_problem(entry, seq, self.prev, self.body_check)
        if problem is not None:
            self.report.problem = problem
            return False
        self.prev = entry.hash
        self.frontier.append(leaf_hash(entry.body))
        self.report.records = seq
        cp = self.pending.pop(seq, None)
        if cp is not None:
            if cp.root != self.frontier.root().hex() or cp.chain_head != self.prev:
                self.report.problem = Problem(
                    self.last_good_size + 1,
                    f"records {self.last_good_size + 1}..{cp.tree_size} do not match the "
                    f"signed checkpoint at size {cp.tree_size} (rewritten history)",
                )
                return False
            self.report.checkpoints_checked += 1
            self.last_good_size = cp.tree_size
        self.expected_seq = seq + 1
        return True

    def finish(self) -> VerifyReport:
        report = self.report
        report.last_hash = self.prev
        if report.problem is None and self.pending:
            largest = max(self.pending)
            report.problem = Problem(
                self.expected_seq,
                f"missing: the log ends at {self.expected_seq - 1} records but a signed "
                f"checkpoint covers {largest} (truncated tail)",
            )
        return report


def chain_verify(
    entries: Iterable[ChainEntry],
    *,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    body_check: Any = None,
) -> VerifyReport:
    """Walk the log once, in storage order, and name the first bad record.

    Args:
        entries: records in the order the store returns them (by seq for the database,
            line order for an export).
        checkpoints: signed checkpoints; each must verify under `public_key` and match the
            log at its tree size; the largest one bounds a truncated tail.
        public_key: the log's Ed25519 public key (required when checkpoints are given).
        body_check: optional callable(seq, parsed_body) -> str | None, for store-specific
            checks (e.g. the database's indexed columns agree with the body).

    Memory is O(log n) plus the checkpoints; the time is one pass of SHA-256 and a JSON
    parse per record.
    """
    verifier = ChainVerifier(checkpoints=checkpoints, public_key=public_key, body_check=body_check)
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.finish()


def _entry_problem(
    entry: ChainEntry, expected_seq: int, prev: str, body_check: Any
) -> Problem | None:
    if entry.seq > expected_seq:
        return Problem(
            expected_seq, f"missing or moved: found seq {entry.seq} where {expected_seq} belongs"
        )
    if entry.seq < expected_seq:
        # The earlier holder of this number passed every check, so it is the suspect: an
        # inserted record that links correctly shows up as a second claim on its number.
        return Problem(entry.seq, f"seq {entry.seq} appears again (inserted or moved record)")
    if entry.prev_hash != prev:
        return Problem(expected_seq, "prev_hash does not link to the previous record")
    try:
        data = canonical_load(entry.body)
    except CanonicalJsonError as exc:
        return Problem(expected_seq, f"body is not canonical JSON ({exc})")
    if not isinstance(data, dict) or data.get("seq") != expected_seq:
        return Problem(expected_seq, "body names another sequence number (moved record)")
    if record_hash(prev, entry.body) != entry.hash:
        return Problem(expected_seq, "hash does not match the body (edited record)")
    if body_check is not None:
        reason = body_check(expected_seq, data)
        if reason:
            return Problem(expected_seq, reason)
    return None


def entries_chain(bodies: Iterable[bytes]) -> Iterator[ChainEntry]:
    """Chain already-canonical bodies with seq 1.. (used by tests and the benchmark)."""
    prev = GENESIS_HASH
    for seq, body in enumerate(bodies, start=1):
        digest = record_hash(prev, body)
        yield ChainEntry(seq=seq, body=body, prev_hash=prev, hash=digest)
        prev = digest
