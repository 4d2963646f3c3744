"""Lighthouse (mobile) against the sign-in page and a signed-in Today page.

Starts the app on http://localhost:<free port> from a throwaway instance, seeds a small demo
agency, signs one agent in on a user-verified, approved device (the same software
authenticator the tests use), and runs Lighthouse 12 with Debian's Chromium against each page
(Today in a Chromium whose cookie jar holds the agent's session and device cookies). Prints,
for the median of a few runs, the four category scores, the bytes transferred, and every
audit that did not pass.

    .venv/bin/python bench/lighthouse.py [--runs 5] [--clients 30] [--keep-reports DIR]

Lighthouse is installed with npm into ~/.cache/safeharbor-bench the first time (pinned to
12.2.3: Lighthouse 13 needs Node 22). A benchmark, not a gate: it never fails on a score.
Targets: performance >= 95, accessibility 100, best practices 100.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import WSGIRequestHandler, make_server

from bench._common import machine_line, progress, throwaway_instance
from tests.support.browser import Phone
from webapp import create_app
from webapp.access.agency_settings import get_setting, set_setting
from webapp.audit import Actor
from webapp.auth.invites import issue_invite
from webapp.crm.seeding import seed_demo_agency
from webapp.db import get_session

LIGHTHOUSE_VERSION = "12.2.3"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "safeharbor-bench"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100}
AGENT = "agent1@example.com"  # a demo agent (webapp.crm.demo_data)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class _LateBound:
    """The server needs its port before the app exists (the app's origin names the port)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def lighthouse_binary() -> Path:
    """Lighthouse's CLI, installed into the cache folder the first time."""
    binary = CACHE / "node_modules" / ".bin" / "lighthouse"
    installed = CACHE / "node_modules" / "lighthouse" / "package.json"
    if binary.exists() and json.loads(installed.read_text())["version"] == LIGHTHOUSE_VERSION:
        return binary
    if shutil.which("npm") is None:
        sys.exit("npm is needed to install Lighthouse (Node 20 or later).")
    CACHE.mkdir(parents=True, exist_ok=True)
    package = CACHE / "package.json"
    if not package.exists():
        package.write_text(json.dumps({"name": "safeharbor-bench", "private": True}))
    progress(f"installing lighthouse@{LIGHTHOUSE_VERSION} into {CACHE} (once)")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--save-exact",
                    f"lighthouse@{LIGHTHOUSE_VERSION}"], cwd=CACHE, check=True)
    return binary


def sign_in_agent(app, origin: str) -> dict[str, str]:
    """The cookies of a demo agent signed in on an approved device by a user-verified
    passkey ceremony (enrollment signs in)."""
    with app.app_context():
        session = get_session()
        set_setting(session, "device_approval_required.agent", False, updated_by=None)
        clock = app.extensions["safeharbor.clock"]
        _user, token = issue_invite(session, email=AGENT, role="agent",
                                    actor=Actor(label="bench"), now=clock.now())
        session.commit()
    phone = Phone(app)
    response = phone.enroll(token, origin=origin)
    if response.status_code != 200:
        sys.exit(f"could not sign the agent in: {response.status_code} "
                 f"{response.get_data(as_text=True)[:200]}")
    cookies = {name: phone.client.get_cookie(name) for name in ("sh-session", "sh-device")}
    return {name: cookie.value for name, cookie in cookies.items() if cookie}


@contextmanager
def chromium_signed_in(origin: str, cookies: dict[str, str]) -> Iterator[int]:
    """A headless Chromium whose cookie jar holds `cookies` for `origin`; yields its
    DevTools port, for `lighthouse --port`.

    NOTE: not Lighthouse's --extra-headers: a Cookie header given that way is replaced by the
    browser's own jar as soon as the page sets any cookie (the CSRF session does), and the
    page's own fetches then go out signed out. Lighthouse keeps cookies between its runs'
    storage resets, so cookies in the jar last the whole audit."""
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="safeharbor-lighthouse-profile-"))
    browser = subprocess.Popen([CHROMIUM, *CHROME_FLAGS.split(), f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or browser.poll() is not None:
                sys.exit("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with sync_playwright() as playwright:
            connected = playwright.chromium.connect_over_cdp(f"http://localhost:{port}")
            connected.contexts[0].add_cookies([
                {"name": name, "value": value, "url": origin, "httpOnly": True,
                 "sameSite": "Lax"} for name, value in cookies.items()])
            connected.close()  # disconnects; the browser and its cookies stay
        yield port
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


def seed(app, clients: int) -> None:
    with app.app_context():
        session = get_session()
        zone = get_setting(session, "agency_timezone")
        seed_demo_agency(session, app.extensions["safeharbor.keyring"], clients=clients,
                         today=datetime.now(ZoneInfo(zone)).date(), timezone=zone,
                         actor=Actor(label="bench"))


def run_lighthouse(binary: Path, url: str, report: Path, *, port: int | None = None) -> dict:
    """One Lighthouse run (mobile, its default); in the Chromium at `port` if given, else in
    one Lighthouse launches."""
    command = [str(binary), url, "--output=json", f"--output-path={report}", "--quiet",
               f"--only-categories={','.join(CATEGORIES)}"]
    command.append(f"--port={port}" if port else f"--chrome-flags={CHROME_FLAGS}")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not report.exists():
        sys.exit(f"lighthouse failed on {url}:\n{result.stderr[-2000:]}")
    return json.loads(report.read_text())


def failing_audits(result: dict) -> dict[str, list[str]]:
    """Per category, the audits that count towards its score and did not pass."""
    audits = result["audits"]
    failing: dict[str, list[str]] = {}
    for name in CATEGORIES:
        for ref in result["categories"][name]["auditRefs"]:
            audit = audits[ref["id"]]
            if audit["scoreDisplayMode"] in ("binary", "numeric", "metricSavings") \
                    and audit["score"] is not None and audit["score"] < 1 \
                    and (ref["weight"] > 0 or audit["scoreDisplayMode"] == "binary"):
                shown = audit.get("displayValue") or f"score {audit['score']:.2f}"
                failing.setdefault(name, []).append(f"{ref['id']} ({shown})")
    return failing


def scores_of(result: dict) -> dict[str, int]:
    return {name: round((result["categories"][name]["score"] or 0) * 100)
            for name in CATEGORIES}


def median_run(binary: Path, url: str, reports: Path, name: str, runs: int, *,
               port: int | None = None) -> tuple[dict, list[int]]:
    """Run Lighthouse `runs` times; returns the run with the median performance score (the
    machine is shared: one run alone says little) and every run's performance score."""
    results = []
    for run in range(runs):
        progress(f"lighthouse: {url} ({run + 1}/{runs})")
        results.append(run_lighthouse(binary, url, reports / f"{name}-{run + 1}.json",
                                      port=port))
    ordered = sorted(results, key=lambda result: scores_of(result)["performance"])
    return ordered[len(ordered) // 2], [scores_of(result)["performance"] for result in results]


def summarise(label: str, result: dict, performance_runs: list[int]) -> list[str]:
    scores = scores_of(result)
    weight = result["audits"]["total-byte-weight"]["numericValue"]
    lines = [f"{label}: {result['finalDisplayedUrl']} (the median of {len(performance_runs)} "
             f"runs by performance: {', '.join(map(str, performance_runs))})"]
    for name in CATEGORIES:
        target = TARGETS.get(name)
        verdict = "" if target is None else ("ok" if scores[name] >= target else "under")
        shown = f">= {target}" if target is not None else "-"
        lines.append(f"  {name:<15} {scores[name]:>3}   target {shown:<7} {verdict}")
    lines.append(f"  transferred     {weight / 1024:.1f} KB (Lighthouse total-byte-weight)")
    by_type: dict[str, int] = {}
    for item in result["audits"]["network-requests"]["details"]["items"]:
        kind = item.get("resourceType") or "Other"
        by_type[kind] = by_type.get(kind, 0) + (item.get("transferSize") or 0)
    page = sum(by_type.get(kind, 0) for kind in ("Document", "Stylesheet", "Script"))
    lines.append(f"  of which page   {page / 1024:.1f} KB (HTML, CSS, JS; budget 60 KB); "
                 + ", ".join(f"{kind} {size / 1024:.1f}" for kind, size in
                             sorted(by_type.items(), key=lambda kv: -kv[1])))
    metrics = result["audits"]
    for audit in ("first-contentful-paint", "largest-contentful-paint",
                  "total-blocking-time", "cumulative-layout-shift"):
        lines.append(f"  {metrics[audit]['title']:<26} {metrics[audit]['displayValue']}")
    for name, audits in failing_audits(result).items():
        lines.append(f"  not passed ({name}): {', '.join(audits)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30, help="demo clients to seed")
    parser.add_argument("--runs", type=int, default=5,
                        help="Lighthouse runs per page; the median one is shown")
    parser.add_argument("--keep-reports", type=Path,
                        help="write the Lighthouse JSON reports into this folder")
    args = parser.parse_args()
    binary = lighthouse_binary()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"Chromium not found at {CHROMIUM} (set CHROME_PATH)")

    reports = args.keep_reports or Path(tempfile.mkdtemp(prefix="safeharbor-lighthouse-"))
    reports.mkdir(parents=True, exist_ok=True)
    # NOTE: `localhost`, not 127.0.0.1: WebAuthn refuses an IP address as its RP ID.
    server = make_server("localhost", 0, _LateBound(), threaded=True, request_handler=_Quiet)
    origin = f"http://localhost:{server.server_port}"
    with throwaway_instance() as instance:
        app = create_app({"database_url": instance.database_url,
                          "instance_path": instance.path / "instance",
                          "kek_file": str(instance.path / "instance" / "keys" / "kek.json"),
                          "kek": None, "origin": origin})
        server.app.app = app  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            progress(f"seeding {args.clients} clients; serving {origin}")
            seed(app, args.clients)
            cookies = sign_in_agent(app, origin)
            lines = [f"Lighthouse {LIGHTHOUSE_VERSION}, mobile (simulated throttling); "
                     f"{machine_line()}", ""]
            login, runs = median_run(binary, f"{origin}/login", reports, "login", args.runs)
            lines += [*summarise("sign-in page", login, runs), ""]
            with chromium_signed_in(origin, cookies) as port:
                today, runs = median_run(binary, f"{origin}/", reports, "today", args.runs,
                                         port=port)
            if today["finalDisplayedUrl"].rstrip("/") != origin:
                lines.append(f"(the signed-in run ended on {today['finalDisplayedUrl']})")
            lines += summarise("Today, signed in", today, runs)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            app.extensions["safeharbor.engine"].dispose()
    print("\n".join(lines))
    if args.keep_reports:
        print(f"\nreports: {reports}")
    else:
        shutil.rmtree(reports, ignore_errors=True)


if __name__ == "__main__":
    main()
