"""Per-request cost of reading the record, deriving features and evaluating every rule.

    .venv/bin/python bench/record.py [--n 400] [--data ../shared/data]

Three prefetch bodies, as JSON bytes the way a hook request carries them:
- typical: the median-sized Synthea patient of --data (by observation count), or the
  committed fixture `diabetes_ckd` when --data is absent;
- large: the same patient's observations replicated to 5,000 (dates spread over 15 years);
- each run interleaves, call by call, the baseline (`json.loads` of the body: the floor
  any service pays) and the measured path: `json.loads` + record_from_prefetch +
  features_current + every rule's population (the decision trace) + recommendations for
  every service + care gaps + current MUST-NOT violations.
Prints p50/p95 in ms and the ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cds.guidelines.engine import context_build, ruleset_default  # noqa: E402
from ehr_integration.fhir.derive import features_current  # noqa: E402
from ehr_integration.fhir.sources import bundle_resources, record_from_prefetch  # noqa: E402

TODAY = date(2021, 6, 1)


def prefetch_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {
        "Condition": [],
        "Observation": [],
        "MedicationRequest": [],
    }
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    for r in resources:
        if r["resourceType"] in by:
            by[r["resourceType"]].append(r)

    def searchset(kind: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in by[kind]],
        }

    return {
        "patient": patient,
        "conditions": searchset("Condition"),
        "observations": searchset("Observation"),
        "medications": searchset("MedicationRequest"),
    }


def typical_patient(data: Path | None) -> tuple[str, list[dict[str, Any]]]:
    if data is None or not data.is_dir():
        path = ROOT / "tests" / "fixtures" / "fhir" / "diabetes_ckd.json.gz"
        with gzip.open(path, "rt") as fh:
            return "fixture diabetes_ckd", bundle_resources(json.load(fh))
    sized = []
    for path in sorted(data.glob("*/bundles/*.json.gz")):
        with gzip.open(path, "rt") as fh:
            resources = bundle_resources(json.load(fh))
        n = sum(r["resourceType"] == "Observation" for r in resources)
        sized.append((n, path.name, resources))
    sized.sort(key=lambda t: t[0])
    n, name, resources = sized[len(sized) // 2]
    return f"median Synthea patient {name[:30]} ({n} observations)", resources


def enlarge(resources: list[dict[str, Any]], target: int) -> list[dict[str, Any]]:
    obs = [r for r in resources if r["resourceType"] == "Observation"]
    rest = [r for r in resources if r["resourceType"] != "Observation"]
    out = []
    start = TODAY - timedelta(days=15 * 365)
    for i in range(target):
        r = copy.deepcopy(obs[i % len(obs)])
        r["id"] = str(uuid.uuid4())
        when = start + timedelta(days=(i * 15 * 365) // target)
        r["effectiveDateTime"] = when.isoformat() + "T09:00:00+00:00"
        out.append(r)
    return rest + out


def evaluate(body: bytes) -> int:
    prefetch = json.loads(body)
    record = record_from_prefetch(prefetch)
    features = features_current(record, today=TODAY)
    ruleset = ruleset_default()
    ctx = context_build(features)
    n = len(ruleset.trace_all(ctx))
    n += len(ruleset.recommendations(ctx))
    n += len(ruleset.care_gaps(ctx)) + len(ruleset.current_violations(ctx))
    return n


def measure(body: bytes, n: int, clock: Any) -> tuple[list[float], list[float]]:
    base, full = [], []
    for _ in range(n):
        t0 = clock()
        json.loads(body)
        t1 = clock()
        evaluate(body)
        t2 = clock()
        base.append((t1 - t0) * 1000)
        full.append((t2 - t1) * 1000)
    return base, full


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    label, resources = typical_patient(args.data)
    ruleset_default()  # rules load once per process, as in the service
    for name, res, n in (
        (f"typical: {label}", resources, args.n),
        ("large: 5,000 observations", enlarge(resources, 5000), max(20, args.n // 10)),
    ):
        body = json.dumps(prefetch_of(res)).encode()
        evaluate(body)  # warm
        print(f"{name}  [{len(body) / 1024:.0f} KiB, n={n}]")
        # Wall time is what a request waits; thread CPU time is what it costs, and is far
        # less disturbed when other processes share the cores.
        for clock_name, clock in (("wall", time.perf_counter), ("cpu", time.thread_time)):
            base, full = measure(body, n, clock)
            print(
                f"  {clock_name:4s} baseline json.loads   p50 {p(base, 50):7.2f} ms  "
                f"p95 {p(base, 95):7.2f} ms"
            )
            print(
                f"  {clock_name:4s} read+derive+all rules p50 {p(full, 50):7.2f} ms  "
                f"p95 {p(full, 95):7.2f} ms   ratio p50 {p(full, 50) / p(base, 50):5.1f}x, "
                f"p95 {p(full, 95) / p(base, 95):5.1f}x"
            )


if __name__ == "__main__":
    main()
