"""Open an HTML file in headless Chromium and report what a reader would see (stdlib only).

Talks the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages separated by NUL bytes on
file descriptors 3 and 4), so no websocket library or driver is needed. Used by tests/test_report.py;
also a script::

    python tests/chromium.py runs/vae-digits/report.html --screenshot report.png
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
#: JavaScript run after the load event: every image's natural size and any resources fetched.
PROBE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                  height: i.naturalHeight})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  height: document.documentElement.scrollHeight, title: document.title})"""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser saw: per-image natural sizes, console errors, fetched resources."""

    images: list[dict]
    errors: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    title: str = ""
    height: int = 0


class Browser:
    """A headless Chromium driven over the DevTools pipe."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout, self._id, self.events = timeout, 0, []
        self._profile = tempfile.TemporaryDirectory(prefix="vaekit-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        fds = (to_child_r, from_child_w)

        def wire_fds() -> None:  # in the child: the pipe ends become fds 3 (commands) and 4 (replies)
            high = [os.dup(fd) for fd in fds]
            for target, fd in zip((3, 4), high):
                os.dup2(fd, target)

        self.proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=False, preexec_fn=wire_fds)  # only fds 3, 4 are inheritable
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its result (events that arrive meanwhile are kept)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        return self._wait(lambda m: m.get("method") == method, keep=True)

    def _wait(self, match, keep: bool = False) -> dict:
        for i, m in enumerate(self.events):
            if match(m):
                return self.events.pop(i) if not keep else m
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read(deadline)
            if match(msg):
                if keep:
                    self.events.append(msg)
                return msg
            self.events.append(msg)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            os.close(fd)
        self._profile.cleanup()


def console_errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and browser log errors (failed loads, CSP, ...)."""
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            out.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log: {p['entry'].get('text', '')} {p['entry'].get('url', '')}".strip())
    return out


def check_page(html_file: str | Path, screenshot: str | Path | None = None, width: int = 1200,
               executable: str | None = None) -> PageCheck:
    """Load ``html_file`` in headless Chromium, probe its images, optionally save a full-page screenshot."""
    browser = Browser(executable or find_chromium() or "chromium")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.send("Page.navigate", {"url": Path(html_file).resolve().as_uri()}, session)
        browser.wait_event("Page.loadEventFired")
        probe = browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)
        seen = json.loads(probe["result"]["value"])
        if screenshot is not None:
            shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                           "clip": {"x": 0, "y": 0, "width": width,
                                                                    "height": seen["height"], "scale": 1}}, session)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return PageCheck(images=seen["images"], errors=console_errors(browser.events),
                         resources=seen["resources"], title=seen["title"], height=seen["height"])
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html")
    parser.add_argument("--screenshot", metavar="PNG")
    args = parser.parse_args(argv)
    result = check_page(args.html, args.screenshot)
    broken = [i for i in result.images if not i["complete"] or i["width"] == 0]
    print(f"title: {result.title}\nimages: {len(result.images)} ({len(broken)} broken)\n"
          f"console errors: {len(result.errors)}\nresources fetched: {len(result.resources)}")
    for line in [*result.errors, *(f"broken image: {i['alt']}" for i in broken), *result.resources]:
        print("  " + line)
    return 1 if broken or result.errors or result.resources else 0


if __name__ == "__main__":
    sys.exit(main())
