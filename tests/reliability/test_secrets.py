"""Secrets never land in logs, the store or the reports; those files are owner-only.

The demo pipeline runs for real (connectors, fake providers, store, reports) with DEBUG logging
in both formats. Its credentials are captured as the demo sets them, then every log line and
every byte of every file it wrote is searched for them. A second run swaps in wrong credentials
of known value, so each source fails authentication, and searches again: failure messages
must name the setting, never echo the secret.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scanner.app import demo
from scanner.core import logs
from tests.reliability.conftest import Observe

WRONG = {
    demo.ENTRA_SECRET_ENV: "wrong-entra-secret-4f1d9c",
    demo.OKTA_TOKEN_ENV: "wrong-okta-token-8b2e7a",
}


def secrets_of(environ: dict[str, str]) -> dict[str, str]:
    """The secret values the demo exported, including the Google key's private parts."""
    found = {
        "entra client secret": environ[demo.ENTRA_SECRET_ENV],
        "okta API token": environ[demo.OKTA_TOKEN_ENV],
    }
    key = json.loads(environ[demo.GOOGLE_KEY_ENV])
    pem_lines = [line for line in key["private_key"].splitlines() if "-----" not in line]
    found["google private key"] = pem_lines[len(pem_lines) // 2]
    found["google private key id"] = key["private_key_id"]
    return found


def leaks(secrets: dict[str, str], out: Path, log_text: str) -> list[str]:
    problems = [f"{name} in the log" for name, value in secrets.items() if value in log_text]
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for name, value in secrets.items():
            if value.encode() in data or value.encode("utf-16-le") in data:
                problems.append(f"{name} in {path.name}")
    return problems


@contextmanager
def capturing_demo(
    monkeypatch: pytest.MonkeyPatch, seen: dict[str, str], swap: bool
) -> Iterator[None]:
    real_serve = demo.serve

    @contextmanager
    def serve(tenant: Any, night: Any) -> Iterator[dict[str, Any]]:
        with real_serve(tenant, night) as endpoints:
            names = (demo.ENTRA_SECRET_ENV, demo.OKTA_TOKEN_ENV, demo.GOOGLE_KEY_ENV)
            seen.update({name: os.environ[name] for name in names})
            if swap:
                os.environ.update(WRONG)
            yield endpoints

    monkeypatch.setattr(demo, "serve", serve)
    yield


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_demo_leaks_no_secret_and_writes_owner_only_files(
    fmt: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    observe: Observe,
) -> None:
    logs.configure("debug", fmt)
    exported: dict[str, str] = {}
    with capturing_demo(monkeypatch, exported, swap=False):
        demo.run_demo(tmp_path)
    captured = capsys.readouterr()
    log_text = captured.err + captured.out
    assert (tmp_path / "report.json").exists()
    assert "scanner" in log_text or "connectors" in log_text, "debug logging was captured"
    secrets = secrets_of(exported)
    assert not leaks(secrets, tmp_path, log_text)

    private = ["shadowit.db", "report.html", "report.json", "apps.csv", "findings.csv"]
    private += ["inventory.xlsx"]
    private += [p.name for p in tmp_path.glob("shadowit.db-*")]
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in private}
    assert modes == dict.fromkeys(private, 0o600), modes
    observe(
        "secrets",
        f"demo scan and reports with DEBUG logs ({fmt}); searched for the Entra client secret, "
        "the Okta token and the Google private key",
        f"none found in logs or in {len(list(tmp_path.rglob('*')))} files; "
        f"{', '.join(private)} are 0600",
    )


def test_rejected_credentials_are_not_echoed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    observe: Observe,
) -> None:
    logs.configure("debug", "text")
    exported: dict[str, str] = {}
    with capturing_demo(monkeypatch, exported, swap=True):
        demo.run_demo(tmp_path, now=demo.DEMO_NOW)
    captured = capsys.readouterr()
    log_text = captured.err + captured.out
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    status = {s["source"]: s for s in report["scan"]["sources"]}
    assert status["entra"]["status"] == "failed" and status["okta"]["status"] == "failed"
    wrong = {f"wrong value of {name}": value for name, value in WRONG.items()}
    assert not leaks({**wrong, **secrets_of(exported)}, tmp_path, log_text)
    errors = "; ".join(f"{s}: {status[s]['error']}" for s in ("entra", "okta"))
    observe(
        "secrets",
        "wrong Entra client secret and wrong Okta token (known values)",
        f"sources failed with messages that name the setting, not the value: {errors}",
    )
