"""A small Chrome DevTools Protocol client: a real headless Chromium driven over websockets.

Why not Selenium or Playwright: neither is installed and nothing may be downloaded; the
DevTools protocol is a JSON-over-websocket API that Debian's `chromium` speaks natively,
and the few commands a page review needs (navigate, evaluate, screenshot) fit in a page
of code. Synchronous on purpose: a test reads top to bottom.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


def chromium_path() -> str | None:
    """The browser binary: $CHROMIUM, else `chromium` / `chromium-browser` on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab, attached with a flat session: commands carry its sessionId."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    def send(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict:
        return self.browser.send(method, params, session_id=self.session_id, **kw)

    def navigate(self, url: str, *, timeout: float = 20.0) -> None:
        """Open `url` and wait for its load event."""
        self.browser.events.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigation to {url} failed: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", session_id=self.session_id, timeout=timeout)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """Run JavaScript in the page and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if result.get("exceptionDetails"):
            details = result["exceptionDetails"]
            thrown = (details.get("exception") or {}).get("description") or details.get("text")
            raise CdpError(f"script failed: {thrown}")
        return result["result"].get("value")

    def submit_and_wait(self, expression: str, *, timeout: float = 20.0) -> None:
        """Run a script that submits a form or clicks a link, then wait for the next load."""
        self.browser.events.clear()
        self.evaluate(expression)
        self.browser.wait_event("Page.loadEventFired", session_id=self.session_id, timeout=timeout)

    def screenshot(self, path: Path, *, full_page: bool = True) -> bytes:
        """PNG of the page (the whole document when `full_page`), also written to `path`."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


class Browser:
    """A headless Chromium process and its browser-level DevTools websocket."""

    def __init__(self, ws: ClientConnection, process: subprocess.Popen, profile: str) -> None:
        self.ws = ws
        self.process = process
        self.profile = profile
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CdpError(f"timed out waiting for {waiting_for}")
        try:
            return json.loads(self.ws.recv(timeout=remaining))
        except TimeoutError as exc:
            raise CdpError(f"timed out waiting for {waiting_for}") from exc

    def wait_event(
        self, method: str, *, session_id: str | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        """Return the first `method` event (already buffered or arriving before timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and (
                    session_id is None or event.get("sessionId") == session_id
                ):
                    return self.events.pop(i)
            reply = self._receive(deadline, method)
            if "method" in reply:
                self.events.append(reply)

    def new_page(self, *, width: int = 1440, height: int = 900) -> Page:
        """A fresh tab at desktop size in its own browser context (no shared cookies)."""
        context = self.send("Target.createBrowserContext", {"disposeOnDetach": True})
        target = self.send(
            "Target.createTarget",
            {"url": "about:blank", "browserContextId": context["browserContextId"]},
        )["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page


@contextmanager
def chromium(*, startup_timeout: float = 120.0) -> Iterator[Browser]:
    """Start headless Chromium on a free DevTools port; always stop it afterwards.

    The first start on a fresh machine builds font and profile caches and took over 30 s
    in CI, so the bound is generous; a warm start takes well under a second.
    """
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("chromium not found (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="cds-chromium-")
    args = [
        binary,
        "--headless=new",
        "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
        f"--user-data-dir={profile}",
        "--window-size=1440,900",
        "about:blank",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = Path(profile) / "DevToolsActivePort"
    ws = None
    try:
        deadline = time.monotonic() + startup_timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None:
                raise CdpError(f"chromium exited with {process.returncode} at start")
            if time.monotonic() > deadline:
                raise CdpError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024)
        yield Browser(ws, process, profile)
    finally:
        if ws is not None:
            ws.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
