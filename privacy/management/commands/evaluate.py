"""python manage.py evaluate --task t2d_drug --source synthetic:100000:1 [--out-dir docs]

Trains, in one run and on one split, the same model without DP and with DP-SGD at each
--epsilons value, evaluates each on the held-out patients, and writes the model card
(docs/model-card-<task>.md and .json) for the DP model at --card-epsilon (default 3).
Every DP run is charged to the dataset's privacy budget ledger like `train`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from privacy.management.commands.train import add_run_arguments, secure_mode_check
from privacy.ml.cohort import RISK_TASK
from privacy.ml.sources import SourceError, source_load
from privacy.runs import RunOptions, card_write, clean, run_fit, run_options_from
from privacy.services import (
    BudgetExceeded,
    artifact_register,
    budget_charge,
    charge_attach_artifact,
)


def _pct(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    return f"{100 * m['value']:.1f}% ({100 * m['ci_low']:.1f}-{100 * m['ci_high']:.1f})"


def _num(m: dict[str, Any] | None, digits: int = 3) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    return f"{m['value']:.{digits}f} ({m['ci_low']:.{digits}f}-{m['ci_high']:.{digits}f})"


class Command(BaseCommand):
    help = "Evaluate DP vs non-DP models in one run and write the model card to docs/."

    def add_arguments(self, parser: CommandParser) -> None:
        add_run_arguments(parser)
        parser.add_argument("--epsilons", default="1,3,8")
        parser.add_argument("--card-epsilon", type=float, default=3.0)
        parser.add_argument("--out-dir", default=None)
        parser.add_argument("--secure-mode", action="store_true")
        parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")

    def handle(self, *args: Any, **o: Any) -> None:
        delta = o["delta"] if o["delta"] is not None else settings.CDS_PRIVACY["DEFAULT_DELTA"]
        try:
            epsilons = [float(e) for e in o["epsilons"].split(",") if e.strip()]
        except ValueError as exc:
            raise CommandError("--epsilons is a comma-separated list of numbers") from exc
        if not epsilons or any(e <= 0 for e in epsilons) or o["card_epsilon"] not in epsilons:
            raise CommandError("--epsilons must be positive and include --card-epsilon")
        if o["secure_mode"]:
            secure_mode_check()
        if o["threads"]:
            torch.set_num_threads(o["threads"])
        task = o["task"]
        t0 = time.perf_counter()
        try:
            loaded = source_load(o["source"], tasks=(task,))
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        load_s = time.perf_counter() - t0
        try:
            # All of the run's DP trainings or none: a refusal must not leave partial charges.
            with transaction.atomic():
                charges = [
                    budget_charge(
                        dataset=loaded.dataset,
                        task=task,
                        epsilon=e,
                        delta=delta,
                        accountant=o["accountant"],
                        note="evaluate",
                    )
                    for e in epsilons
                ]
        except BudgetExceeded as exc:
            raise CommandError(f"privacy budget exceeded: {exc}") from exc
        base = run_options_from(o, task=task, delta=delta)
        runs: dict[str, dict[str, Any]] = {}
        card: dict[str, Any] = {}
        for label, eps in [("non_dp", None), *[(f"dp_eps_{e:g}", e) for e in epsilons]]:
            try:
                _, _, raw, c = run_fit(loaded, RunOptions(epsilon=eps, **base))
            except (ValueError, RuntimeError) as exc:
                raise CommandError(f"{label}: {exc}") from exc
            runs[label] = {
                "training": c["training"],
                "metrics": c["metrics"],
                "artifact_sha256": c["artifact_sha256"],
            }
            self.stderr.write(f"{label}: done in {c['training']['seconds']:.1f}s")
            if eps is not None:
                art = artifact_register(raw=raw, card=c)
                charge_attach_artifact(charge=charges[epsilons.index(eps)], sha256=art.sha256)
            if eps == o["card_epsilon"]:
                card = c
        card = dict(card)
        card["comparison"] = runs
        card["evaluation"] = {
            "source": o["source"],
            "load_s": round(load_s, 2),
            "options": clean(base),
            "epsilons": epsilons,
        }
        out_dir = Path(o["out_dir"] or (settings.BASE_DIR / "docs"))
        md = _markdown(card, task, o["card_epsilon"])
        j, m = card_write(card, out_dir, task, md)
        self.stdout.write(
            json.dumps(
                {"card": str(m), "json": str(j), "artifact_sha256": card.get("artifact_sha256")},
                indent=1,
            )
        )


def _markdown(card: dict[str, Any], task: str, eps: float) -> str:
    t = card["training"]
    d = card["data"]
    lines = [
        f"# Model card: {task}",
        "",
        f"Generated by `python manage.py evaluate --task {task} --source {card['evaluation']['source']}`"  # noqa: E501
        " (do not edit by hand; rerun the command).",
        "",
        "## Model",
        f"- Artifact sha256: `{card['artifact_sha256']}` (DP-SGD, epsilon {eps:g})",
        f"- Architecture: {card['arch']} (plain Linear/ReLU `nn.Sequential`; exact SHAP applies)",
        f"- Features: {len(card['features']['names'])} contract features, version `{card['features']['version']}`",  # noqa: E501
        f"- Data: `{d['dataset']}`, hash `{d['hash'][:16]}...`, sites {', '.join(d['sites'])}; "
        f"{d['n_decision_points']} decision points, train/val/test {d['n_train']}/{d['n_val']}/{d['n_test']} "  # noqa: E501
        "(split by patient)",
        f"- Privacy: epsilon {t.get('epsilon')} (accountant {t.get('accountant')}), RDP epsilon "
        f"{t.get('epsilon_rdp')}, delta {t.get('delta')}, noise multiplier {t.get('noise_multiplier')}, "  # noqa: E501
        f"sampling rate {t.get('sample_rate')}, steps {t.get('steps')}, clipping norm "
        f"{t.get('max_grad_norm')}, per-sample gradients `{t.get('grad_sample_mode')}`, "
        f"secure_mode {t.get('secure_mode')}, device {t.get('device')}",
        "",
    ]
    comp = card["comparison"]
    if task == RISK_TASK:
        lines += [
            f"## Complications within {card['metrics'].get('horizon_years')} years (DP, epsilon {eps:g})",  # noqa: E501
            "",
            "Thresholds chosen on the validation split for sensitivity 0.90; figures on the test split "  # noqa: E501
            "with 95% Wilson (proportions) or bootstrap (AUROC) intervals.",
            "",
            "| risk | prevalence | sensitivity | specificity | AUROC | ECE | Brier |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        rows = dict(card["metrics"]["risks"]) | {
            "any complication": card["metrics"]["any_complication"]
        }
        for name, r in rows.items():
            lines.append(
                f"| {name} | {100 * (r['prevalence'] or 0):.1f}% | {_pct(r['sensitivity'])} | "
                f"{_pct(r['specificity'])} | {_num(r['auroc'])} | {r['calibration']['ece']:.3f} | "
                f"{r['calibration']['brier']:.3f} |"
            )
        lines += [
            "",
            "## DP vs the same model without DP (same run, same split)",
            "",
            "| model | any: sensitivity | any: specificity | any: AUROC | MIA advantage | samples/s |",  # noqa: E501
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, r in comp.items():
            a = r["metrics"]["any_complication"]
            lines.append(
                f"| {label} | {_pct(a['sensitivity'])} | {_pct(a['specificity'])} | "
                f"{_num(a['auroc'])} | {r['metrics']['membership_inference']['advantage']:.3f} | "
                f"{r['training']['samples_per_s']:.0f} |"
            )
        sg = card["metrics"]["subgroups_sensitivity"]
    else:
        mt = card["metrics"]
        lines += [
            f"## Top-1 drug class (DP, epsilon {eps:g}), test split, 95% Wilson intervals",
            "",
            f"- Model: {_pct(mt['top1_accuracy'])} agreement with the class the clinician started",
            f"- Majority-class baseline: {_pct(mt['baseline_majority'])}",
            f"- Guideline-default baseline: {_pct(mt['baseline_guideline_default'])}",
        ]
        if "accuracy_vs_true_best" in mt:
            lines += [
                f"- Against the true best option (generated data only): model "
                f"{_pct(mt['accuracy_vs_true_best'])}; the clinicians themselves "
                f"{_pct(mt['clinician_vs_true_best'])}",
                f"- Regret (utility of true best minus utility of the model's pick): "
                f"{_num(mt['regret'], 4)}; guideline default {mt['regret_guideline_default']:.4f}; "
                f"clinicians {mt['regret_clinicians']:.4f}",
            ]
        lines += [
            "",
            "Per site: " + ", ".join(f"site {k}: {_pct(v)}" for k, v in mt["per_site"].items()),
            "",
            "## DP vs the same model without DP (same run, same split)",
            "",
            "| model | top-1 vs clinician | top-1 vs true best | regret | MIA advantage | samples/s |",  # noqa: E501
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, r in comp.items():
            m = r["metrics"]
            lines.append(
                f"| {label} | {_pct(m['top1_accuracy'])} | {_pct(m.get('accuracy_vs_true_best'))} | "  # noqa: E501
                f"{_num(m.get('regret'), 4)} | {m['membership_inference']['advantage']:.3f} | "
                f"{r['training']['samples_per_s']:.0f} |"
            )
        sg = mt["subgroups"]
    lines += ["", f"## Subgroups (DP, epsilon {eps:g})", ""]
    for attr in ("sex", "age_band", "race"):
        groups = sg[attr]["groups"]
        lines.append(
            f"- {attr}: "
            + "; ".join(f"{g} {_pct(v)}" for g, v in groups.items())
            + f" (largest gap {100 * (sg[attr]['largest_gap'] or 0):.1f} points)"
        )
    lg = sg["largest_gap"]
    lines += [
        f"- Largest gap overall: {lg['attribute']} ({100 * lg['gap']:.1f} points)",
        "",
        "## Limitations",
        "",
        "- Scaler statistics and the SHAP background (column-shuffled training values) are "
        "not covered by the DP guarantee; compute them from public or generated data for a "
        "strict end-to-end guarantee.",
        "- The ledger composes runs by simple addition (loose but valid).",
        "- Generated-data figures measure the pipeline against a known ground truth; they do "
        "not validate clinical effectiveness.",
        "",
    ]
    return "\n".join(lines)
