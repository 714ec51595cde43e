"""A small inventory for the ownership-confirmation tests (no tests of its own).

Acme's marketing uses Canva (tolerated, owner on the sanctioned list), Jasper (first consent by
a marketing user) and Semrush (only Sales uses it, so the fallback owner is asked); engineering
uses GitHub (not marketing), Eve alone uses Mailchimp and Buffer is banned (never asked).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema

from reports import model as report_model
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.app import config as configuration
from scanner.app.config import Config
from scanner.app.pipeline import analyse
from scanner.core.models import Grant, RawApp, SourceRecord, User
from scanner.store.database import IngestStats, Store

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
KEY_ENV = "SHADOWIT_TEST_CONFIRM_KEY"
BASE_URL = "http://127.0.0.1:8765"
KEY = "k" * 20 + "-test-signing-key-0123456789"
SCHEMA = Path(__file__).parent.parent / "reports" / "schema" / "report.schema.json"

CONFIG = """\
[organisation]
name = "Acme"
marketing_departments = ["Marketing"]
own_domains = ["acme.example"]

[store]
path = "shadowit.db"

[report]
out = "out"

[[sanctioned.apps]]
app = "Canva"
status = "tolerated"
owner = "lead@acme.example"

[[sanctioned.apps]]
app = "Buffer"
status = "banned"

[confirm]
secret_env = "{key_env}"
fallback_owner = "mops@acme.example"
link_base_url = "{base}"
reminder_days = 3
max_reminders = 2
{extra}
"""

PEOPLE = {
    "u1": ("ana@acme.example", "Marketing"),
    "u2": ("ben@acme.example", "Marketing"),
    "u3": ("carl@acme.example", "Sales"),
    "u4": ("dora@acme.example", "Engineering"),
    "u5": ("eve@acme.example", "Marketing"),
}

APPS = {
    # client id: (name, [(user, scopes, days before NOW)])
    "canva-id": (
        "Canva",
        [("u2", ["https://www.googleapis.com/auth/drive.file"], 40), ("u1", ["email"], 30)],
    ),
    "jasper-id": (
        "Jasper",
        [
            ("u1", ["https://www.googleapis.com/auth/gmail.readonly"], 50),
            ("u2", ["email"], 20),
            ("u5", ["email"], 10),
        ],
    ),
    "semrush-id": ("Semrush", [("u3", ["https://www.googleapis.com/auth/analytics.readonly"], 30)]),
    "mailchimp-id": ("Mailchimp", [("u5", ["email"], 25)]),
    "github-id": ("GitHub", [("u4", ["email"], 60)]),
    "buffer-id": ("Buffer", [("u1", ["email"], 70)]),
}


def records() -> Iterator[SourceRecord]:
    for uid, (email, dept) in PEOPLE.items():
        yield User("google", uid, email, display_name=email.split("@")[0], department=dept)
    for client_id, (name, grants) in APPS.items():
        yield RawApp("google", client_id, name)
        for uid, scopes, days in grants:
            yield Grant(
                "google",
                client_id,
                uid,
                tuple(scopes),
                granted_at=NOW - timedelta(days=days),
                user_email=PEOPLE[uid][0],
            )


class Clock:
    """A settable clock for the page's link expiry."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_config(
    folder: Path, extra: str = "", key_env: str = KEY_ENV, base: str = BASE_URL
) -> Config:
    path = folder / "config.toml"
    text = CONFIG.format(key_env=key_env, extra=extra, base=base)
    path.write_text(text, encoding="utf-8")
    return configuration.load(path)


@contextmanager
def signing_key(value: str = KEY) -> Iterator[None]:
    os.environ[KEY_ENV] = value
    try:
        yield
    finally:
        os.environ.pop(KEY_ENV, None)


def scan(config: Config, now: datetime = NOW, data: Iterable[SourceRecord] = ()) -> int:
    """One scan: ingest ``data`` (if any) and analyse, as ``shadowit scan`` would."""
    store = Store.open(config.store_path, clock=lambda: now)
    try:
        scan_id = store.begin_scan()
        store.begin_source(scan_id, "google")
        stats = store.ingest(scan_id, "google", data, IngestStats())
        status = store.end_source(scan_id, "google", "ok", stats)
        base = config.file.parent if config.file else None
        catalog = Catalog.load(config.catalog, base)
        entries = sanctions.load(config.sanctioned, base, catalog)
        analyse(store, config, scan_id, now, [status], {"google": {"google"}}, catalog, entries)
        store.finish_scan(scan_id)
        return scan_id
    finally:
        store.close()


def inventory(folder: Path, extra: str = "", base: str = BASE_URL) -> Config:
    """A config in ``folder`` and a store with one finished scan of the Acme apps."""
    config = write_config(folder, extra, base=base)
    scan(config, NOW - timedelta(hours=1), records())
    return config


def report(config: Config, now: datetime = NOW) -> dict[str, Any]:
    """The report model, validated against the JSON schema."""
    store = Store.open(config.store_path)
    try:
        model = report_model.build(store, config, now=now)
    finally:
        store.close()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(model, default=str)), schema)
    return model


def app_of(model: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in model["apps"] if a["name"] == name)


def findings_of(model: dict[str, Any], name: str) -> dict[str, str]:
    return {f["kind"]: f["status"] for f in model["findings"] if f["app"] == name}
