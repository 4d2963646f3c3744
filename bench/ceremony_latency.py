"""Passkey ceremony latency, server side, in-process.

Prints the median and p95 of: sign-in options, sign-in verify (a genuine assertion from a
software P-256 authenticator, verified by py_webauthn), and unlock verify, each beside a
baseline measured in the same run (GET /healthz, which touches the database once), as a ratio.
The machine is shared and noisy: read the ratios, not the milliseconds.

    .venv/bin/python bench/ceremony_latency.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.authenticator import SoftAuthenticator
from tests.support.browser import ORIGIN, Phone
from webapp import create_app, migrate
from webapp.audit import Actor
from webapp.auth.invites import issue_invite
from webapp.clock import Clock
from webapp.db import get_session


def _timed(samples: list[float], call) -> object:
    started = time.perf_counter()
    result = call()
    samples.append((time.perf_counter() - started) * 1000)
    return result


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"database_url": f"sqlite:///{tmp}/bench.db",
                          "instance_path": Path(tmp) / "instance", "clock": Clock(),
                          "RATELIMIT_ENABLED": False})
        migrate.upgrade(app.extensions["safeharbor.engine"])
        app.extensions["safeharbor.keyring"].ensure_blind_index_key()
        with app.app_context():
            _user, token = issue_invite(get_session(), email="bench@example.com", role="admin",
                                        actor=Actor(label="bench"),
                                        now=app.extensions["safeharbor.clock"].now())
            get_session().commit()
        phone = Phone(app, SoftAuthenticator())
        assert phone.enroll(token).status_code == 200
        phone.load_csrf("/account")
        baseline, options_ms, verify_ms, unlock_ms = [], [], [], []
        for _ in range(args.rounds):
            _timed(baseline, lambda: phone.client.get("/healthz"))
            options = _timed(options_ms, lambda: phone.post_json("/login/options"))
            credential = phone.authenticator.get(json.dumps(options.json["options"]),
                                                 origin=ORIGIN)
            response = _timed(verify_ms, lambda c=credential: phone.post_json(
                "/login/verify", {"credential": c}))
            assert response.status_code == 200, response.get_data(as_text=True)
            unlock_options = phone.post_json("/unlock/options")
            credential = phone.authenticator.get(json.dumps(unlock_options.json["options"]),
                                                 origin=ORIGIN)
            response = _timed(unlock_ms, lambda c=credential: phone.post_json(
                "/unlock/verify", {"credential": c}))
            assert response.status_code == 200, response.get_data(as_text=True)
        base_median, _ = _summary(baseline)
        print(f"rounds: {args.rounds}; baseline GET /healthz median {base_median:.2f} ms")
        print(f"{'measurement':<28}{'median ms':>10}{'p95 ms':>10}{'x baseline':>12}")
        for name, samples in (("sign-in options", options_ms), ("sign-in verify", verify_ms),
                              ("unlock verify", unlock_ms)):
            median, p95 = _summary(samples)
            print(f"{name:<28}{median:>10.2f}{p95:>10.2f}{median / base_median:>12.1f}")
        app.extensions["safeharbor.engine"].dispose()


if __name__ == "__main__":
    main()
