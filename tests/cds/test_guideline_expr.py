"""The population expression language: parsing, three-valued logic, refusals."""

from __future__ import annotations

import pytest

from cds.guidelines.expr import ExpressionError, expression_parse


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("egfr < 30", {"egfr": 29.9}, True),
        ("egfr < 30", {"egfr": 30.0}, False),
        ("egfr < 30", {"egfr": None}, None),
        ("diabetes and egfr < 30", {"diabetes": 0.0, "egfr": None}, False),
        ("diabetes and egfr < 30", {"diabetes": 1.0, "egfr": None}, None),
        ("diabetes or egfr < 30", {"diabetes": 1.0, "egfr": None}, True),
        ("diabetes or egfr < 30", {"diabetes": 0.0, "egfr": None}, None),
        ("not pregnant", {"pregnant": None}, None),
        ("not pregnant", {"pregnant": 0.0}, True),
        ("sbp_mean > 130 + 20", {"sbp_mean": 150.5}, True),
        ("bp_stage in ['stage1', 'stage2']", {"bp_stage": "stage1"}, True),
        ("bp_stage == 'stage2'", {"bp_stage": None}, None),
        ("(a or b) and not c", {"a": 0.0, "b": 1.0, "c": 0.0}, True),
        ("false", {}, False),
    ],
)
def test_three_valued_evaluation(source: str, env: dict, expected: bool | None) -> None:
    assert expression_parse(source).evaluate(env) is expected


@pytest.mark.parametrize(
    "source",
    ["egfr <", "__import__('os')", "egfr < 30 )", "egfr ; 1", "a and", "x in [1"],
)
def test_it_refuses_what_is_not_the_language(source: str) -> None:
    with pytest.raises(ExpressionError):
        expression_parse(source)


def test_it_refuses_unknown_names_when_told_the_vocabulary() -> None:
    with pytest.raises(ExpressionError, match="egrf"):
        expression_parse("egrf < 30", known_names=frozenset({"egfr"}))


def test_a_value_is_not_a_condition() -> None:
    with pytest.raises(ExpressionError):
        expression_parse("egfr + 1").evaluate({"egfr": 2.0})
