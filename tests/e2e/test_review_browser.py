"""The review pages in a real headless Chromium at desktop width, against a live server.

Run: `PYTEST_WORKERS=1 bin/test -m browser tests/e2e`. Screenshots are kept under
var/screenshots/ for a person to look at; the tests check them too (not blank, desktop
width, the plot's coloured bars present where the page says the plot is).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from audit.plots import NEGATIVE, POSITIVE
from tests.audit.review_seed import REVIEW_PASSWORD, review_user, seed_log
from tests.e2e.cdp import Browser, Page, chromium, chromium_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed"),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP_WIDTH = 1440


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as running:
        yield running


@pytest.fixture
def seeded(transactional_db: Any) -> list[Any]:
    return seed_log(decisions=30)


def _login(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_page(width=DESKTOP_WIDTH)
    page.navigate(f"{base}/audit/login/")
    page.submit_and_wait(
        f"""
        document.getElementById('id_username').value = {json.dumps(username)};
        document.getElementById('id_password').value = {json.dumps(REVIEW_PASSWORD)};
        document.getElementById('login-form').submit();
        """
    )
    return page


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _check_screenshot(png: bytes, *, region: dict[str, float] | None = None) -> Image.Image:
    """Not blank, desktop width; inside `region` (page coordinates) the plot's bar colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width >= DESKTOP_WIDTH - 20
    gray = ImageStat.Stat(image.convert("L"))
    assert gray.stddev[0] > 10, "screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 20
    if region is not None:
        box = (
            int(region["x"]),
            int(region["y"]),
            int(region["x"] + region["width"]),
            int(region["y"] + region["height"]),
        )
        assert box[2] - box[0] > 400 and box[3] - box[1] > 100, f"plot too small: {box}"
        crop = image.crop(box)
        wanted = {_rgb(POSITIVE), _rgb(NEGATIVE)}
        coloured = sum(n for n, rgb in crop.getcolors(maxcolors=1 << 20) or [] if rgb in wanted)
        assert coloured > 300, f"no plot bars drawn in {box} ({coloured} bar pixels)"
    return image


def _rect(page: Page, selector: str) -> dict[str, float]:
    return page.evaluate(
        f"""(() => {{
          const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
          return {{x: r.left + window.scrollX, y: r.top + window.scrollY,
                   width: r.width, height: r.height}};
        }})()"""
    )


def _fetch(page: Page, path: str) -> list[Any]:
    return page.evaluate(
        f"""fetch({json.dumps(path)}, {{credentials: 'same-origin'}})
              .then(async r => [r.status, r.headers.get('content-type'), await r.text()])""",
        await_promise=True,
    )


def test_an_auditor_reviews_list_detail_analytics_and_exports(
    browser: Browser, live_server: Any, seeded: list[Any]
) -> None:
    review_user("alice", "auditor")
    page = _login(browser, live_server.url, "alice")
    assert page.evaluate("location.pathname") == "/audit/decisions/"

    # list: 30 decisions, newest first, filters work through the real form
    rows = page.evaluate("document.querySelectorAll('#decisions tbody tr').length")
    assert rows == 30
    first = page.evaluate("document.querySelector('#decisions tbody a').textContent")
    assert int(first) == max(s.seq for s in seeded)
    _check_screenshot(page.screenshot(SCREENSHOTS / "review-list.png"))
    page.submit_and_wait(
        """document.getElementById('id_outcome').value = 'overridden';
           document.getElementById('filters').submit();"""
    )
    overridden = page.evaluate("document.querySelectorAll('#decisions tbody tr').length")
    assert overridden == sum(1 for s in seeded if s.outcome == "overridden") == 10

    # detail: open a decision from the list; the waterfall is drawn
    page.submit_and_wait("document.querySelector('#decisions tbody a').click()")
    assert page.evaluate("location.pathname").startswith("/audit/decisions/")
    bars = page.evaluate("document.querySelectorAll('#shap-waterfall-0 rect.bar').length")
    assert bars >= 6
    assert "Consider an SGLT2 inhibitor" in page.evaluate(
        "document.getElementById('cards').innerText"
    )
    assert "ada-9" in page.evaluate("document.getElementById('trace').innerText")
    assert page.evaluate("!!document.getElementById('hash-ok')")
    png = page.screenshot(SCREENSHOTS / "review-detail.png")
    _check_screenshot(png, region=_rect(page, "#shap-waterfall-0"))

    # analytics: plots by service, rule, model and over time
    page.navigate(f"{live_server.url}/audit/analytics/")
    for plot in ("override-by-service", "override-by-rule", "override-by-model", "override-trend"):
        assert page.evaluate(f"!!document.getElementById('{plot}')"), plot
    png = page.screenshot(SCREENSHOTS / "review-analytics.png")
    _check_screenshot(png, region=_rect(page, "#override-by-service"))

    # exports, downloaded with the logged-in session
    page.navigate(f"{live_server.url}/audit/decisions/")
    href = page.evaluate("document.getElementById('export-csv').getAttribute('href')")
    status, content_type, text = _fetch(page, href)
    assert status == 200 and content_type.startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 30 and all(len(r["hash"]) == 64 for r in exported)
    status, content_type, text = _fetch(page, "/audit/export.fhir.json?outcome=accepted")
    assert status == 200 and content_type.startswith("application/fhir+json")
    bundle = json.loads(text)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types.count("AuditEvent") == types.count("Provenance") == 10


def test_a_user_without_review_rights_is_refused(
    browser: Browser, live_server: Any, seeded: list[Any]
) -> None:
    review_user("mallory")  # logged in, but no review role
    page = _login(browser, live_server.url, "mallory")
    page.navigate(f"{live_server.url}/audit/decisions/")
    assert page.evaluate("document.getElementById('forbidden').textContent") == "Not allowed"
    assert page.evaluate("document.querySelectorAll('#decisions').length") == 0
    _check_screenshot(page.screenshot(SCREENSHOTS / "review-refused.png"))
    for path in ("/audit/decisions/", f"/audit/decisions/{seeded[0].seq}/", "/audit/export.csv"):
        status, _, text = _fetch(page, path)
        assert status == 403 and "pat-" not in text

    review_user("ivan", "integrator")  # analytics only, no patient data
    page = _login(browser, live_server.url, "ivan")
    assert page.evaluate("location.pathname") == "/audit/analytics/"
    assert _fetch(page, "/audit/analytics/")[0] == 200
    assert _fetch(page, f"/audit/decisions/{seeded[0].seq}/")[0] == 403
    assert _fetch(page, "/audit/export.fhir.json")[0] == 403
