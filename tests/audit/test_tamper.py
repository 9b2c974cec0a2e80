"""Tamper evidence of the pure verifier: thousands of random mutations, all caught and named.

The log (3,000 records, a signed checkpoint every 100, the last at the end) is built once.
Each mutation changes a copy in memory; the verifier is a left fold, and everything before
the first touched position is byte-identical to the clean log, so a mutated copy is
verified by resuming from the clean verifier's saved state at or before that position.
`test_resuming_gives_the_same_verdict_as_a_full_run` checks that shortcut against full
runs from scratch, and the clean logs are always verified in full.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import chain

N = 3000
CHECKPOINT_EVERY = 100
SNAPSHOT_EVERY = 25
MUTATIONS = 3600  # in all, over the batches (xdist spreads them)
MUTATION_BATCHES = 4
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def record_body(rng: random.Random, seq: int) -> bytes:
    return chain.canonical_json(
        {
            "v": 1,
            "seq": seq,
            "time": f"2026-12-02T05:{seq % 60:02d}:00.{seq:06d}+00:00",
            "kind": rng.choice(["hook", "hook", "feedback", "access"]),
            "service_id": rng.choice(["diabetes-therapy", "statin-therapy", "ckd-risk"]),
            "user": f"Practitioner/{rng.randint(1, 40)}",
            "patient_pseudonym": f"{rng.getrandbits(256):064x}",
            "latency_ms": round(rng.uniform(0.5, 40.0), 3),
            "event": {
                "decision": {
                    "features": {"egfr": rng.uniform(10, 120), "hba1c": rng.uniform(5, 12)},
                    "candidates": [{"action": "metformin", "score": rng.random()}],
                    "guideline_trace": [{"rule": "r1", "result": "fired", "why": "é ≥ 7%"}],
                }
            },
        }
    )


def checkpoints_for(entries: list[chain.ChainEntry], sizes: list[int]) -> list[chain.Checkpoint]:
    frontier = chain.MerkleFrontier()
    out = []
    wanted = set(sizes)
    for entry in entries:
        frontier.append(chain.leaf_hash(entry.body))
        if frontier.size in wanted:
            out.append(
                chain.checkpoint_sign(
                    private_key=KEY,
                    tree_size=frontier.size,
                    root=frontier.root(),
                    chain_head=entry.hash,
                    time="2026-12-02T06:00:00+00:00",
                )
            )
    return out


def rewrite_end(entries: list[chain.ChainEntry], start: int) -> int:
    """Where an attacker's rewrite from position `start` may stop, for speed: one past the
    first checkpoint the rewrite reaches. The verifier stops at that checkpoint, and its
    verdict there depends only on the records before it, so rewriting the rest of the log
    too could not change the verdict (the resume test runs such copies in full)."""
    next_checkpoint = (start // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    return min(len(entries), next_checkpoint + 1)


def rechain(entries: list[chain.ChainEntry], start: int) -> None:
    """What an attacker without the signing key can do: recompute the hashes from `start`."""
    prev = entries[start - 1].hash if start else chain.GENESIS_HASH
    for i in range(start, rewrite_end(entries, start)):
        digest = chain.record_hash(prev, entries[i].body)
        entries[i] = replace(entries[i], prev_hash=prev, hash=digest)
        prev = digest


def edited_body(body: bytes, rng: random.Random) -> bytes:
    data = chain.canonical_load(body)
    field = rng.choice(["user", "service_id", "latency_ms", "kind", "features"])
    if field == "features":
        data["event"]["decision"]["features"]["egfr"] += 0.001
    elif field == "latency_ms":
        data["latency_ms"] = data["latency_ms"] + 1
    else:
        data[field] = str(data[field]) + "x"
    return chain.canonical_json(data)


class Log:
    def __init__(self) -> None:
        rng = random.Random(20261202)
        self.entries = list(chain.entries_chain(record_body(rng, s) for s in range(1, N + 1)))
        sizes = [*range(CHECKPOINT_EVERY, N + 1, CHECKPOINT_EVERY)]
        if sizes[-1] != N:
            sizes.append(N)
        self.checkpoints = checkpoints_for(self.entries, sizes)
        verifier = chain.ChainVerifier(checkpoints=self.checkpoints, public_key=PUBLIC)
        self.snapshots = [verifier.copy()]
        for i, entry in enumerate(self.entries, start=1):
            assert verifier.feed(entry)
            if i % SNAPSHOT_EVERY == 0:
                self.snapshots.append(verifier.copy())
        self.clean_report = verifier.finish()

    def verify_from(self, mutated: list[chain.ChainEntry], first_touched: int) -> chain.Problem:
        block = first_touched // SNAPSHOT_EVERY
        verifier = self.snapshots[block].copy()
        for entry in mutated[block * SNAPSHOT_EVERY :]:
            if not verifier.feed(entry):
                break
        report = verifier.finish()
        assert report.problem is not None
        return report.problem

    def verify_full(self, mutated: list[chain.ChainEntry], checkpoints: Any = None) -> Any:
        return chain.chain_verify(
            mutated,
            checkpoints=self.checkpoints if checkpoints is None else checkpoints,
            public_key=PUBLIC,
        ).problem


@pytest.fixture(scope="module")
def log() -> Log:
    return Log()


def last_checkpoint_below(size: int) -> int:
    return (size - 1) // CHECKPOINT_EVERY * CHECKPOINT_EVERY


def rewrite_named(first_changed_seq: int, log_length: int) -> int:
    """Where a rewrite without the key is named: the start of the first checkpoint window
    that no longer matches, or the first missing record when the log now ends before it."""
    window_start = last_checkpoint_below(first_changed_seq) + 1
    next_checkpoint = min(window_start - 1 + CHECKPOINT_EVERY, N)
    return window_start if next_checkpoint <= log_length else log_length + 1


Mutation = Callable[[list[chain.ChainEntry], random.Random], tuple[int, int]]
# Each returns (first touched position, the seq the verifier must name).


def m_edit(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N)
    e[p] = replace(e[p], body=edited_body(e[p].body, rng))
    return p, p + 1


def m_edit_and_rechain(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N)
    e[p] = replace(e[p], body=edited_body(e[p].body, rng))
    rechain(e, p)
    return p, rewrite_named(p + 1, len(e))


def m_delete(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N - 1)  # deleting the last one is a truncation (below)
    del e[p]
    return p, p + 1


def m_delete_and_renumber(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N - 1)
    del e[p]
    for i in range(p, rewrite_end(e, p)):
        data = chain.canonical_load(e[i].body)
        data["seq"] = i + 1
        e[i] = replace(e[i], seq=i + 1, body=chain.canonical_json(data))
    rechain(e, p)
    return p, rewrite_named(p + 1, len(e))


def m_insert(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    # A forged record that links correctly to its predecessor and claims the next number.
    p = rng.randrange(1, N)
    body = record_body(rng, p + 1)
    prev = e[p - 1].hash
    e.insert(p, chain.ChainEntry(p + 1, body, prev, chain.record_hash(prev, body)))
    # Named as the second claim on p + 1, unless a checkpoint at p + 1 notices first.
    return p, p + 1 if (p + 1) % CHECKPOINT_EVERY else rewrite_named(p + 1, len(e))


def m_insert_and_renumber(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N)
    e.insert(p, chain.ChainEntry(p + 1, record_body(rng, p + 1), "", ""))
    for i in range(p + 1, rewrite_end(e, p)):
        data = chain.canonical_load(e[i].body)
        data["seq"] = i + 1
        e[i] = replace(e[i], seq=i + 1, body=chain.canonical_json(data))
    rechain(e, p)
    return p, rewrite_named(p + 1, len(e))


def m_swap(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p, q = sorted(rng.sample(range(N), 2))
    e[p], e[q] = e[q], e[p]
    return p, p + 1


def m_swap_bodies(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    # Swap the contents but keep the seq/hash columns in place (a sneakier reorder).
    p, q = sorted(rng.sample(range(N), 2))
    e[p], e[q] = replace(e[p], body=e[q].body), replace(e[q], body=e[p].body)
    return p, p + 1


def m_truncate(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    k = rng.randrange(N)
    del e[k:]
    return k, k + 1


def m_flip_byte(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N)
    body = bytearray(e[p].body)
    i = rng.randrange(len(body))
    body[i] ^= 1 << rng.randrange(7)
    e[p] = replace(e[p], body=bytes(body))
    return p, p + 1


def m_edit_hash_column(e: list[chain.ChainEntry], rng: random.Random) -> tuple[int, int]:
    p = rng.randrange(N)
    field = rng.choice(["hash", "prev_hash"])
    e[p] = replace(e[p], **{field: f"{rng.getrandbits(256):064x}"})
    return p, p + 1


MUTATIONS_BY_NAME: dict[str, Mutation] = {
    f.__name__[2:]: f
    for f in (
        m_edit,
        m_edit_and_rechain,
        m_delete,
        m_delete_and_renumber,
        m_insert,
        m_insert_and_renumber,
        m_swap,
        m_swap_bodies,
        m_truncate,
        m_flip_byte,
        m_edit_hash_column,
    )
}


def test_the_clean_log_verifies_in_full(log: Log) -> None:
    report = chain.chain_verify(log.entries, checkpoints=log.checkpoints, public_key=PUBLIC)
    assert report.ok, report.problem
    assert report.records == N
    assert report.checkpoints_checked == len(log.checkpoints) == N // CHECKPOINT_EVERY
    assert log.clean_report.ok


@pytest.mark.parametrize("seed", range(MUTATION_BATCHES))
def test_every_random_mutation_is_detected_and_the_first_bad_record_named(
    log: Log, seed: int
) -> None:
    rng = random.Random(seed)
    names = list(MUTATIONS_BY_NAME)
    done: Counter[str] = Counter()
    for _ in range(MUTATIONS // MUTATION_BATCHES):
        name = rng.choice(names)
        mutated = list(log.entries)
        first, expected = MUTATIONS_BY_NAME[name](mutated, rng)
        problem = log.verify_from(mutated, first)
        assert problem.seq == expected, (name, first, str(problem))
        done[name] += 1
    assert sum(done.values()) * MUTATION_BATCHES >= 3500
    assert min(done.values()) > 40, done


def test_resuming_gives_the_same_verdict_as_a_full_run(log: Log) -> None:
    rng = random.Random(11)
    for name in list(MUTATIONS_BY_NAME) * 4:
        mutated = list(log.entries)
        first, _ = MUTATIONS_BY_NAME[name](mutated, rng)
        assert log.verify_from(mutated, first) == log.verify_full(mutated), name


def test_a_forged_or_dropped_checkpoint_is_caught(log: Log) -> None:
    cps = list(log.checkpoints)
    forged = replace(cps[3], root="00" * 32)
    assert "signature" in str(log.verify_full(log.entries, [*cps[:3], forged, *cps[4:]]))
    other_key = Ed25519PrivateKey.generate()
    resigned = chain.checkpoint_sign(
        private_key=other_key, tree_size=N, root=bytes(32), chain_head="0" * 64, time="t"
    )
    assert "signature" in str(log.verify_full(log.entries, [*cps, resigned]))
    # Truncation after the last checkpoint is invisible without a later checkpoint: the
    # auditor's own earlier checkpoints (verify_export --checkpoints) close that gap.
    cut = log.entries[: N - 10]
    assert log.verify_full(cut, cps[:-1]) is None
    assert log.verify_full(cut, cps).seq == N - 9


def test_no_false_alarm_on_1000_distinct_clean_logs() -> None:
    rng = random.Random(99)
    for _ in range(1000):
        size = rng.randint(0, 80)
        entries = list(chain.entries_chain(record_body(rng, s) for s in range(1, size + 1)))
        sizes = sorted(rng.sample(range(size + 1), k=min(size + 1, rng.randint(0, 4))))
        checkpoints = checkpoints_for(entries, [s for s in sizes if s])
        if 0 in sizes:
            checkpoints.append(
                chain.checkpoint_sign(
                    private_key=KEY,
                    tree_size=0,
                    root=chain.EMPTY_ROOT,
                    chain_head=chain.GENESIS_HASH,
                    time="t",
                )
            )
        report = chain.chain_verify(entries, checkpoints=checkpoints, public_key=PUBLIC)
        assert report.ok, (size, sizes, report.problem)
        assert report.records == size
