"""docs/conformance.md is what the matrix tool writes today, and every Service requirement
is either claimed by a test or carries a reason it does not apply."""

from __future__ import annotations

from tests.tools import conformance_matrix as matrix


def test_the_conformance_doc_is_not_stale() -> None:
    assert matrix.DOC.read_text(encoding="utf-8") == matrix.render(), (
        "docs/conformance.md is stale: run .venv/bin/python -m tests.tools.conformance_matrix"
    )


def test_every_service_requirement_is_covered_or_explained() -> None:
    rows = matrix.requirements()
    assert len(rows) == 120  # the Inferno list: 105 Service + 15 Client-and-Service rows
    covered = matrix.coverage()
    open_ids = [
        r["ID"]
        for r in rows
        if int(r["ID"]) not in covered and int(r["ID"]) not in matrix.NOT_APPLICABLE
    ]
    assert open_ids == []


def test_a_reason_is_never_kept_for_a_requirement_a_test_covers() -> None:
    assert not set(matrix.NOT_APPLICABLE) & set(matrix.coverage())


def test_claimed_ids_exist_in_the_requirement_list() -> None:
    known = {int(r["ID"]) for r in matrix.requirements()}
    assert set(matrix.coverage()) <= known
