"""SHAP factors in clinical words, with the patient's own values (pure Python, no Django).

Why a table and not generated text: a clinician reads "eGFR 38 mL/min/1.73m2, falling
5.1 per year: raises kidney disease progression risk" in the card detail in a second, and
an auditor must be able to see exactly which phrase belongs to which feature. Every name
in `contract.FEATURE_NAMES` has an entry (a test enforces it), with the contract's unit.

Direction words follow the sign of the SHAP value in the explained output space (logit or
score): positive "raises" a risk / "favours" a drug class, negative "lowers" / "argues
against". Magnitudes stay out of the sentence: they are model-scale numbers that a
clinician should not read as probabilities; the review pages show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ehr_integration.fhir.contract import FEATURE_NAMES


@dataclass(frozen=True)
class FeatureWords:
    """How to say one feature: a numeric `label` + `unit`, or yes/no phrases for flags."""

    label: str
    unit: str = ""
    decimals: int = 0
    yes: str = ""  # flags: phrase when 1.0
    no: str = ""  # flags: phrase when 0.0

    @property
    def is_flag(self) -> bool:
        return bool(self.yes)


def _flag(yes: str, no: str) -> FeatureWords:
    return FeatureWords(label=yes, yes=yes, no=no)


def _on(drug: str) -> FeatureWords:
    return _flag(f"Taking {drug}", f"Not taking {drug}")


FEATURE_WORDS: dict[str, FeatureWords] = {
    "age_years": FeatureWords("Age", "years"),
    "sex_female": _flag("Female", "Male"),
    "race_black": _flag("Black race (recorded)", "Race recorded as not Black"),
    "ethnicity_hispanic": _flag("Hispanic or Latino", "Not Hispanic or Latino"),
    "bmi": FeatureWords("BMI", "kg/m2", 1),
    "smoker_current": _flag("Current smoker", "Not a current smoker"),
    "hba1c_pct": FeatureWords("HbA1c", "%", 1),
    "hba1c_age_days": FeatureWords("Last HbA1c taken", "days ago"),
    "glucose_mg_dl": FeatureWords("Glucose", "mg/dL"),
    "egfr": FeatureWords("eGFR", "mL/min/1.73m2"),
    "egfr_age_days": FeatureWords("Last eGFR taken", "days ago"),
    "egfr_slope_per_year": FeatureWords("eGFR change", "mL/min/1.73m2 per year", 1),
    "creatinine_mg_dl": FeatureWords("Creatinine", "mg/dL", 2),
    "uacr_mg_g": FeatureWords("Urine albumin/creatinine", "mg/g"),
    "sbp_mean": FeatureWords("Systolic BP", "mmHg"),
    "dbp_mean": FeatureWords("Diastolic BP", "mmHg"),
    "ldl_mg_dl": FeatureWords("LDL cholesterol", "mg/dL"),
    "hdl_mg_dl": FeatureWords("HDL cholesterol", "mg/dL"),
    "total_chol_mg_dl": FeatureWords("Total cholesterol", "mg/dL"),
    "lvef_pct": FeatureWords("LVEF", "%"),
    "diabetes": _flag("Diabetes", "No diabetes"),
    "prediabetes": _flag("Prediabetes", "No prediabetes"),
    "hypertension": _flag("Hypertension", "No hypertension"),
    "ckd": _flag("Chronic kidney disease", "No chronic kidney disease"),
    "ckd_stage": FeatureWords("CKD stage"),
    "albuminuria": _flag("Albuminuria", "No albuminuria"),
    "ascvd": _flag("Established ASCVD", "No established ASCVD"),
    "heart_failure": _flag("Heart failure", "No heart failure"),
    "hfref": _flag("HF with reduced EF", "No HF with reduced EF"),
    "retinopathy": _flag("Diabetic retinopathy", "No retinopathy"),
    "neuropathy": _flag("Diabetic neuropathy", "No neuropathy"),
    "pregnant": _flag("Pregnant", "Not pregnant"),
    "ascvd_risk_10y": FeatureWords("10-year ASCVD risk", "%", 1),
    "on_metformin": _on("metformin"),
    "on_sglt2i": _on("an SGLT2 inhibitor"),
    "on_glp1ra": _on("a GLP-1 receptor agonist"),
    "on_dpp4i": _on("a DPP-4 inhibitor"),
    "on_sulfonylurea": _on("a sulfonylurea"),
    "on_tzd": _on("a thiazolidinedione"),
    "on_insulin": _on("insulin"),
    "on_acei": _on("an ACE inhibitor"),
    "on_arb": _on("an ARB"),
    "on_ccb_dhp": _on("a dihydropyridine CCB"),
    "on_ccb_nondhp": _on("a non-dihydropyridine CCB"),
    "on_thiazide": _on("a thiazide diuretic"),
    "on_beta_blocker": _on("a beta blocker"),
    "on_mra": _on("an MRA"),
    "on_statin": _on("a statin"),
    "n_glucose_lowering": FeatureWords("Glucose-lowering drug classes", "in use"),
    "n_antihypertensive": FeatureWords("Antihypertensive drug classes", "in use"),
}

# Fractions in the contract shown as percentages to clinicians.
_PERCENT_OF_FRACTION = {"ascvd_risk_10y"}

DRUG_WORDS: dict[str, str] = {
    "metformin": "metformin",
    "sglt2i": "an SGLT2 inhibitor",
    "glp1ra": "a GLP-1 receptor agonist",
    "dpp4i": "a DPP-4 inhibitor",
    "sulfonylurea": "a sulfonylurea",
    "tzd": "a thiazolidinedione",
    "insulin": "insulin",
    "acei": "an ACE inhibitor",
    "arb": "an ARB",
    "ccb_dhp": "a dihydropyridine CCB",
    "ccb_nondhp": "a non-dihydropyridine CCB",
    "thiazide": "a thiazide diuretic",
    "beta_blocker": "a beta blocker",
    "mra": "an MRA",
    "renin_inhibitor": "a renin inhibitor",
    "loop_diuretic": "a loop diuretic",
    "statin": "a statin",
    "ezetimibe": "ezetimibe",
    "pcsk9i": "a PCSK9 inhibitor",
}

RISK_WORDS: dict[str, str] = {
    "ckd_progression": "kidney disease progression risk",
    "retinopathy": "retinopathy risk",
    "neuropathy": "neuropathy risk",
    "heart_failure": "heart failure risk",
    "mi": "heart attack risk",
    "stroke": "stroke risk",
}

# Below this |eGFR slope| (mL/min/1.73m2 per year) kidney function is called stable; ~1/yr
# is the normal age-related decline, so only a faster change is worth a word.
EGFR_STABLE_SLOPE = 1.0


def _number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0" if text in ("-0", "-0.0") else text


def feature_value_words(
    name: str, value: float | None, features: Mapping[str, float | None] | None = None
) -> str:
    """The patient's value of one feature in words: "eGFR 38 mL/min/1.73m2, falling".

    Args:
        name: a contract feature name.
        value: the value the model saw; None (unknown) says so rather than a number.
        features: the whole snapshot, for context such as the eGFR trend.
    """
    # A feature added to the contract later still gets a readable (if plain) phrase; the
    # tests insist every contract feature has its own entry.
    words = FEATURE_WORDS.get(name) or FeatureWords(name.replace("_", " "), decimals=2)
    if value is None:
        return f"{words.label} not recorded"
    if words.is_flag:
        return words.yes if value >= 0.5 else words.no
    shown = value * 100 if name in _PERCENT_OF_FRACTION else value
    text = f"{words.label} {_number(shown, words.decimals)}"
    if words.unit:
        text += f" {words.unit}"
    if name == "egfr" and features is not None:
        slope = features.get("egfr_slope_per_year")
        if slope is not None:
            if slope <= -EGFR_STABLE_SLOPE:
                text += f", falling {_number(-slope, 1)} per year"
            elif slope >= EGFR_STABLE_SLOPE:
                text += f", rising {_number(slope, 1)} per year"
            else:
                text += ", stable"
    return text


def _target_key(target: str) -> tuple[str, str]:
    """("risk" | "drug" | "", name) from a target as serving names it.

    privacy.serving names targets "<task>:<drug class>" (e.g. "t2d_drug:sglt2i") and
    "risk:<complication>"; bare names are accepted too.
    """
    prefix, _, name = target.rpartition(":")
    if prefix == "risk" or (not prefix and name in RISK_WORDS and name not in DRUG_WORDS):
        return "risk", name
    if name in DRUG_WORDS:
        return "drug", name
    return "", name


def target_words(target: str) -> tuple[str, str, str]:
    """(what, up-verb, down-verb) for an explained target: a risk or a drug class."""
    kind, name = _target_key(target)
    if kind == "risk" and name in RISK_WORDS:
        return RISK_WORDS[name], "raises", "lowers"
    if kind == "drug":
        return DRUG_WORDS[name], "favours", "argues against"
    readable = name.replace("_", " ")
    return (f"{readable} risk" if kind == "risk" else readable), "raises", "lowers"


def factor_words(
    *,
    name: str,
    value: float | None,
    contribution: float,
    target: str,
    features: Mapping[str, float | None] | None = None,
) -> str:
    """One factor as a sentence: "eGFR 38 mL/min/1.73m2, falling: raises kidney ... risk"."""
    what, up, down = target_words(target)
    verb = up if contribution >= 0 else down
    return f"{feature_value_words(name, value, features)}: {verb} {what}"


def _field(explanation: Any, key: str) -> Any:
    if isinstance(explanation, Mapping):
        return explanation[key]
    return getattr(explanation, key)


def top_factors(values: Mapping[str, float], *, top: int = 3) -> list[tuple[str, float]]:
    """The `top` features by |SHAP value|, ties broken by contract order, zeros dropped."""
    order = {name: i for i, name in enumerate(FEATURE_NAMES)}
    ranked = sorted(
        ((name, float(v)) for name, v in values.items() if v != 0),
        key=lambda item: (-abs(item[1]), order.get(item[0], len(order)), item[0]),
    )
    return ranked[:top]


def explanation_lines(
    explanation: Any, features: Mapping[str, float | None], *, top: int = 3
) -> list[str]:
    """The top factors of one explanation (an `Explanation` or its dict) as sentences."""
    target = str(_field(explanation, "target"))
    return [
        factor_words(
            name=name,
            value=features.get(name),
            contribution=contribution,
            target=target,
            features=features,
        )
        for name, contribution in top_factors(_field(explanation, "values"), top=top)
    ]


def explanations_markdown(
    explanations: Iterable[Any],
    features: Mapping[str, float | None],
    *,
    top: int = 3,
    targets: Sequence[str] | None = None,
) -> str:
    """Card-detail markdown: per explained target, its top factors in clinical words.

    Args:
        explanations: `privacy.serving.Explanation`s or their decision-log dicts.
        features: the patient's feature snapshot the model saw ({name: value}).
        top: factors per target.
        targets: only these targets, in this order (default: all, as given).
    """
    by_target = {str(_field(e, "target")): e for e in explanations}
    wanted = list(targets) if targets is not None else list(by_target)
    blocks = []
    for target in wanted:
        explanation = by_target.get(target)
        if explanation is None:
            continue
        lines = explanation_lines(explanation, features, top=top)
        if not lines:
            continue
        what, _, _ = target_words(target)
        heading = what[0].upper() + what[1:]
        if _target_key(target)[0] == "drug":
            heading = f"Why {what}"
        blocks.append(f"**{heading}**, main factors:\n" + "\n".join(f"- {s}" for s in lines))
    return "\n\n".join(blocks)
