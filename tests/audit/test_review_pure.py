"""Pure parts of the review pages: SVG plots, card markdown, FHIR AuditEvent/Provenance."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import fhir_export
from audit.plots import rate_bars_svg, rate_trend_svg, shap_waterfall_svg
from audit.render import markdown_html

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it well-formed


def _bars(svg: str) -> list[ET.Element]:
    root = _parse(svg)
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_waterfall_has_one_bar_per_top_feature_plus_the_rest() -> None:
    values = {f"f{i}": (i - 6) / 10 for i in range(14)}
    svg = shap_waterfall_svg(
        base_value=0.2, values=values, output=0.2 + sum(values.values()), top=5
    )
    bars = _bars(svg)
    assert len(bars) == 6  # 5 named + "9 other features"
    assert "9 other features" in svg
    colors = [b.get("fill") for b in bars]
    assert "#c0392b" in colors and "#2471a3" in colors


@settings(max_examples=60, deadline=None)
@given(
    values=st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.floats(-50, 50, allow_nan=False, allow_infinity=False),
        max_size=25,
    ),
    base=st.floats(-10, 10, allow_nan=False),
)
def test_waterfall_is_well_formed_svg_for_any_labels_and_values(values, base) -> None:
    svg = shap_waterfall_svg(base_value=base, values=values, output=base + sum(values.values()))
    root = _parse(svg)  # escaping holds for any label
    for bar in _bars(svg):
        x, w = float(bar.get("x")), float(bar.get("width"))
        assert 0 <= x and x + w <= float(root.get("width")) + 1e-6


def test_plots_escape_labels_and_handle_empty_data() -> None:
    svg = rate_bars_svg(rows=[("<script>", 0.5, 4), ("quiet", None, 0)], title="t & u")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    _parse(svg)
    assert len(_bars(svg)) == 1
    _parse(rate_bars_svg(rows=[], title="none"))
    trend = rate_trend_svg(points=[("2026-01-01", 0.25, 4), ("2026-01-02", None, 0)], title="x")
    root = _parse(trend)
    assert len(list(root.iter(f"{SVG}circle"))) == 1
    _parse(rate_trend_svg(points=[], title="x"))


def test_markdown_is_escaped_before_formatting() -> None:
    html = markdown_html("**Why** <b>x</b>\n\n- eGFR 38: *raises* risk\n- `code`\n\nlast")
    assert html == (
        "<p><strong>Why</strong> &lt;b&gt;x&lt;/b&gt;</p>"
        "<ul><li>eGFR 38: <em>raises</em> risk</li><li><code>code</code></li></ul>"
        "<p>last</p>"
    )
    assert "<script" not in markdown_html("<script>alert(1)</script>")


HOOK = {
    "kind": "hook",
    "seq": 7,
    "time": "2026-12-02T05:00:00+00:00",
    "client_id": "ehr-main",
    "tenant": "general-hospital",
    "user": "Practitioner/dr-lee",
    "hook_instance": "hi-7",
    "service_id": "diabetes-therapy",
    "patient_pseudonym": "ab" * 32,
    "model_artifact_sha256": "cd" * 32,
    "guideline_version": "gl-1",
    "event": {"hook": "patient-view", "decision": {"model": {"task": "t2d_drug"}}},
}


def _codes(items: list[dict]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in items}


def test_hook_record_becomes_a_balp_style_audit_event_and_provenance() -> None:
    event = fhir_export.audit_event_from_record(
        HOOK, record_hash="ee" * 32, prev_hash="ff" * 32, server_name="privacy-cds"
    )
    # R4 required elements
    assert event["resourceType"] == "AuditEvent"
    assert event["type"]["code"] == "rest" and event["recorded"] == HOOK["time"]
    assert event["action"] == "E" and event["outcome"] == "0"
    assert event["source"]["observer"]["display"] == "privacy-cds"
    agent_types = [a["type"]["coding"][0]["code"] for a in event["agent"]]
    assert agent_types == ["110153", "IRCP", "110152"]
    assert sum(a["requestor"] for a in event["agent"]) == 1
    patient = [e for e in event["entity"] if e.get("role", {}).get("code") == "1"]
    assert patient[0]["what"]["identifier"]["value"] == "ab" * 32
    request_id = [e for e in event["entity"] if e["type"]["code"] == "XrequestId"]
    assert request_id[0]["what"]["identifier"]["value"] == "hi-7"
    record = [e for e in event["entity"] if e.get("detail")]
    assert record[0]["detail"][0] == {"type": "record-hash", "valueString": "ee" * 32}

    provenance = fhir_export.provenance_from_record(
        HOOK, record_hash="ee" * 32, server_name="privacy-cds"
    )
    assert provenance["resourceType"] == "Provenance"
    assert provenance["target"] and provenance["recorded"] and provenance["agent"]
    assert {e["what"]["identifier"]["value"] for e in provenance["entity"]} == {
        "cd" * 32,
        "gl-1",
    }


@pytest.mark.parametrize(
    ("kind", "action", "subtype"),
    [("feedback", "C", "create"), ("access", "R", "read")],
)
def test_feedback_and_access_records_export_as_audit_events_only(kind, action, subtype) -> None:
    data = {**HOOK, "kind": kind, "event": {"action": "decision.view", "details": {}}}
    event = fhir_export.audit_event_from_record(
        data, record_hash="01" * 32, prev_hash="02" * 32, server_name="s"
    )
    assert event["action"] == action and event["subtype"][0]["code"] == subtype
    assert fhir_export.provenance_from_record(data, record_hash="01" * 32, server_name="s") is None


def test_bundle_ids_are_stable_and_unique() -> None:
    records = [(HOOK, "ee" * 32, "ff" * 32), ({**HOOK, "seq": 8}, "dd" * 32, "ee" * 32)]
    one = fhir_export.export_bundle(records, server_name="s", timestamp="2026-12-02T05:00:00Z")
    two = fhir_export.export_bundle(records, server_name="s", timestamp="2026-12-02T05:00:00Z")
    assert one == two
    ids = [e["resource"]["id"] for e in one["entry"]]
    assert len(ids) == len(set(ids)) == 4
    assert "total" not in one
