"""Where a training run's decision points come from: a generated cohort (arrays, at scale)
or a directory of FHIR (transaction bundles *.json[.gz] or Bulk Data *.ndjson).

A source string names the dataset in the privacy budget ledger, so the same data always
draws on the same budget: "synthetic:<n>:<seed>" or "fhir:<directory>".
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from privacy.ml.cohort import TASKS, TaskData, task_data_from_cohort, task_data_from_records

if TYPE_CHECKING:
    from ehr_integration.fhir.record import PatientRecord

MAX_SYNTHETIC = 5_000_000


class SourceError(ValueError):
    """A source string or directory that cannot be read as a dataset."""


@dataclass
class Loaded:
    dataset: str  # canonical name for the ledger
    data: dict[str, TaskData]
    sites: list[str]
    outcome_note: str = ""


def source_load(source: str, *, tasks: tuple[str, ...] = TASKS) -> Loaded:
    kind, _, rest = source.partition(":")
    if kind == "synthetic":
        from privacy.synth import params as P
        from privacy.synth.generator import cohort_generate

        try:
            n_s, seed_s = rest.split(":")
            n, seed = int(n_s), int(seed_s)
        except ValueError as exc:
            raise SourceError("synthetic source is synthetic:<n>:<seed>") from exc
        if not 100 <= n <= MAX_SYNTHETIC:
            raise SourceError(f"n must be within 100..{MAX_SYNTHETIC}")
        cohort = cohort_generate(n=n, seed=seed)
        return Loaded(
            dataset=f"synthetic:{n}:{seed}",
            data={t: task_data_from_cohort(cohort, t) for t in tasks},
            sites=[s.name for s in P.SITES],
        )
    if kind == "fhir":
        root = Path(rest).expanduser().resolve()
        if not root.is_dir():
            raise SourceError(f"{root} is not a directory")
        records = _records(root)
        if not records:
            raise SourceError(f"no FHIR patients under {root}")
        return Loaded(
            dataset=f"fhir:{root}",
            data=task_data_from_records(records, tasks=tasks),
            sites=[root.name],
        )
    raise SourceError("source must be synthetic:<n>:<seed> or fhir:<directory>")


def _records(root: Path) -> list[tuple[int, PatientRecord]]:
    from ehr_integration.fhir.sources import RecordError, record_from_bundle, records_from_ndjson

    ndjson = sorted(root.rglob("*.ndjson"))
    if ndjson:
        recs = records_from_ndjson(ndjson)
        return [(0, recs[k]) for k in sorted(recs)]
    out: list[tuple[int, PatientRecord]] = []
    files = sorted([*root.rglob("*.json.gz"), *root.rglob("*.json")])
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            try:
                b = json.load(fh)
            except json.JSONDecodeError:
                continue
        if not isinstance(b, dict) or b.get("resourceType") != "Bundle":
            continue
        if not any(
            (e.get("resource") or {}).get("resourceType") == "Patient" for e in b.get("entry") or ()
        ):
            continue  # support bundles (organizations, practitioners)
        try:
            out.append((0, record_from_bundle(b)))
        except RecordError:
            continue
    return out
