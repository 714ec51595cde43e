"""Confirmation requests name the approved alternative and the renewal from the policy."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from reports.confirm import plan_lines, send_requests
from scanner.analysis import confirm
from scanner.core.models import User
from scanner.store.database import Store
from tests.test_confirm_support import NOW, inventory, scan, signing_key

POLICY = """
[[sanctioned.apps]]
app = "Copy.ai"
status = "sanctioned"
owner = "writing-lead@acme.example"
alternative_of = ["ai_writing"]

[[sanctioned.apps]]
app = "Mailchimp"
status = "tolerated"
renewal_date = 2026-12-15
notice_days = 30
"""


def _bodies(folder: Path, config_dir: Path) -> dict[str, str]:
    config = inventory(config_dir, POLICY)
    with signing_key():
        store = Store.open(config.store_path)
        try:
            result = send_requests(store, config, NOW, out=folder)
        finally:
            store.close()
    bodies = {}
    for path in result.files:
        if path.suffix == ".eml":
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            bodies[path.stem] = message.get_body().get_content()  # type: ignore[union-attr]
    return bodies


def test_request_names_the_alternative_and_the_renewal(tmp_path: Path) -> None:
    bodies = _bodies(tmp_path / "out", tmp_path)
    # Ana is asked about Jasper, an AI writing tool; Copy.ai is the approved one.
    assert (
        "The approved tool for this is Copy.ai (ask writing-lead@acme.example): please use it "
        "instead." in bodies["ana@acme.example"]
    )
    # Eve is asked about Mailchimp, tolerated, whose contract renews soon.
    eve = bodies["eve@acme.example"]
    assert "It renews on 2026-12-15; notice is due 30 days before." in eve
    assert "approved tool" not in eve  # Mailchimp has no approved alternative
    assert "renews" not in bodies["ana@acme.example"]


def test_plan_says_a_request_was_closed_because_its_owner_left(tmp_path: Path) -> None:
    config = inventory(tmp_path)
    store = Store.open(config.store_path)
    try:
        confirm.apply_plan(store, confirm.plan(store, config, config.confirm, NOW), NOW)
    finally:
        store.close()
    scan(config, NOW, [User("google", "u5", "eve@acme.example", "eve", "Marketing", enabled=False)])
    store = Store.open(config.store_path)
    try:
        lines = plan_lines(confirm.plan(store, config, config.confirm, NOW))
    finally:
        store.close()
    assert "close: eve@acme.example about Mailchimp (has left; the next owner is asked)" in lines
    assert any(
        line.startswith("ask (rerouted): mops@acme.example about Mailchimp") for line in lines
    )
