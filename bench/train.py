"""DP training throughput beside non-private training of the same model, and the cost of
model inference inside a hook.

    .venv/bin/python bench/train.py [--n 50000] [--epochs 2] [--device auto|cpu|cuda]
                                    [--threads 1] [--hook-calls 300]

Part 1 (same process, same data, same model, same optimizer and batch size): a t2d
recommender (50 -> 64 -> 64 -> 7 MLP) on generated decision points, trained without DP and
with DP-SGD under each Opacus per-sample-gradient mode (ghost clipping, hooks, expanded
weights "ew", functorch). Prints samples/s and the ratio DP / non-private.

Part 2: candidates_rank p95 (ranking + 6 risks + exact SHAP for 7 targets) with the demo
artifacts active, and a whole diabetes-therapy hook call (JWT, prefetch, features,
guidelines, audit append) with models active vs none active, interleaved call by call:
the difference is what the model adds inside a hook.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def bench_training(n: int, epochs: int, device: str, batch_size: int) -> dict[str, Any]:
    from privacy.ml.cohort import task_data_from_cohort
    from privacy.ml.features import Scaler
    from privacy.ml.models import model_build
    from privacy.ml.train import DPConfig, model_train
    from privacy.synth.generator import cohort_generate

    cohort = cohort_generate(n=n, seed=1)
    d = task_data_from_cohort(cohort, "t2d_drug")
    X = Scaler.fit(d.X).transform(d.X)
    out: dict[str, Any] = {"rows": int(X.shape[0]), "batch_size": batch_size, "epochs": epochs}

    def run(dp: DPConfig | None) -> float:
        m = model_build(arch="mlp", n_in=X.shape[1], n_out=7, hidden=64, seed=0)
        r = model_train(
            model=m,
            X=X,
            y=d.y,
            loss_kind="softmax",
            epochs=epochs,
            batch_size=batch_size,
            lr=0.05 if dp is None else 0.5,
            dp=dp,
            device=device,
            seed=0,
        )
        out["device"] = r.device
        return r.samples_per_s

    base = [run(None)]
    modes = ("ghost", "hooks", "ew", "functorch")
    res: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(2):  # interleave so both sides see the same machine load
        for m in modes:
            res[m].append(
                run(DPConfig(epsilon=3.0, delta=1e-5, grad_sample_mode=m, accountant="rdp"))
            )
        base.append(run(None))
    out["non_private_samples_per_s"] = statistics.median(base)
    for m in modes:
        sps = statistics.median(res[m])
        out[f"dp_{m}_samples_per_s"] = sps
        out[f"dp_{m}_ratio"] = sps / out["non_private_samples_per_s"]
    return out


def bench_serving(calls: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="bench-train-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["CDS_VAR_DIR"] = tmp
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    from django.test import Client

    from ehr_integration.demo import DEMO_ISSUER, demo_public_jwks, demo_token
    from ehr_integration.fhir.contract import FEATURE_NAMES, TASK_CANDIDATES
    from ehr_integration.services import ehr_client_register
    from privacy import serving
    from privacy.services import demo_artifacts_activate
    from privacy.synth.fhir_write import patient_resources
    from privacy.synth.generator import cohort_generate

    ehr_client_register(issuer=DEMO_ISSUER, jwks=demo_public_jwks(), name="Bench EHR")
    demo_artifacts_activate()
    cohort = cohort_generate(n=400, seed=5)
    diabetic = [int(i) for i in range(cohort.n) if cohort.feature("diabetes")[i] == 1][:50]

    # direct candidates_rank
    feats = []
    for i in diabetic:
        feats.append(
            {
                n: (
                    None
                    if cohort.features[i, k] != cohort.features[i, k]
                    else float(cohort.features[i, k])
                )
                for k, n in enumerate(FEATURE_NAMES)
            }
        )
    cands = TASK_CANDIDATES["t2d_drug"]
    serving.candidates_rank(task="t2d_drug", features=feats[0], candidates=cands)
    direct = []
    for j in range(calls):
        t0 = time.perf_counter()
        serving.candidates_rank(task="t2d_drug", features=feats[j % len(feats)], candidates=cands)
        direct.append((time.perf_counter() - t0) * 1000)

    base = settings.CDS_HOOKS["PUBLIC_BASE_URL"]
    url = "/cds-services/diabetes-therapy"
    client = Client()

    def body(i: int) -> dict[str, Any]:
        res = patient_resources(cohort, i, ref_style="relative")
        # "now" data only: drop what the generator dated after the index date is not needed;
        # the service reads everything as the current record, which is what a hook sees.
        by = {"Condition": [], "Observation": [], "MedicationRequest": []}
        for r in res[1:]:
            by[r["resourceType"]].append({"resource": r})

        def b(t: str) -> dict[str, Any]:
            return {"resourceType": "Bundle", "type": "searchset", "entry": by[t]}

        return {
            "hookInstance": str(uuid.uuid4()),
            "hook": "patient-view",
            "context": {"userId": "Practitioner/bench", "patientId": res[0]["id"]},
            "prefetch": {
                "patient": res[0],
                "conditions": b("Condition"),
                "observations": b("Observation"),
                "medications": b("MedicationRequest"),
            },
        }

    bodies = [body(i) for i in diabetic]

    def call(i: int) -> float:
        token = demo_token(audience=base + url)
        payload = json.dumps(bodies[i % len(bodies)])
        t0 = time.perf_counter()
        r = client.post(
            url, payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise SystemExit(f"hook answered {r.status_code}: {r.content[:300]!r}")
        return ms

    # Steady state: activations cached (CDS_PRIVACY["ACTIVE_CACHE_SECONDS"]), artifacts
    # loaded. The "without" arm sees no active model through the same cache (no query).
    for task in ("t2d_drug", "htn_drug", "complications"):
        serving._active_model(task)
    active = dict(serving._active)
    with_model, without = [], []
    for j in range(calls):
        serving._active.update({t: (sha, time.monotonic()) for t, (sha, _) in active.items()})
        with_model.append(call(j))
        serving._active.update({t: (None, time.monotonic()) for t in active})
        without.append(call(j))
    serving._active.update({t: (sha, time.monotonic()) for t, (sha, _) in active.items()})
    r = client.post(
        url,
        json.dumps(bodies[0]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {demo_token(audience=base + url)}",
    )
    ranked_cards = r.content.count(b"Model ranking")
    return {
        "candidates_rank_p50_ms": statistics.median(direct),
        "candidates_rank_p95_ms": p95(direct),
        "hook_p50_ms_with_model": statistics.median(with_model),
        "hook_p95_ms_with_model": p95(with_model),
        "hook_p50_ms_without_model": statistics.median(without),
        "hook_p95_ms_without_model": p95(without),
        "hook_p95_added_ms": p95(with_model) - p95(without),
        "hook_p50_added_ms": statistics.median(with_model) - statistics.median(without),
        "calls": calls,
        "model_ranked_cards_in_last_response": ranked_cards,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--hook-calls", type=int, default=300)
    ap.add_argument("--skip-training", action="store_true")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    out: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    if not a.skip_training:
        out["training"] = bench_training(a.n, a.epochs, a.device, a.batch_size)
    if a.hook_calls:
        out["serving"] = bench_serving(a.hook_calls)
    print(json.dumps(out, indent=1))
    t = out.get("training")
    if t:
        print(f"\nnon-private {t['non_private_samples_per_s']:.0f} samples/s on {t['device']}")
        for m in ("ghost", "hooks", "ew", "functorch"):
            print(
                f"DP {m:9s} {t[f'dp_{m}_samples_per_s']:.0f} samples/s = {t[f'dp_{m}_ratio']:.2f}x non-private"  # noqa: E501
            )
    s = out.get("serving")
    if s:
        print(
            f"candidates_rank p95 {s['candidates_rank_p95_ms']:.2f} ms; hook p95 with model "
            f"{s['hook_p95_ms_with_model']:.1f} ms vs without {s['hook_p95_ms_without_model']:.1f} ms "  # noqa: E501
            f"(added {s['hook_p95_added_ms']:.2f} ms)"
        )


if __name__ == "__main__":
    main()
