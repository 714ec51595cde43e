"""``shadowit demo``: the whole pipeline on the embedded demo tenant, for real.

The demo serves ``connectors/demo/tenant`` (provider-shaped API responses) from local stand-ins
for Microsoft Graph (over TLS, as msal requires), the Google Admin SDK and Okta on 127.0.0.1,
writes a config pointing at them, and runs the same ``scan`` a real tenant gets: connectors,
HTTP paging, parsing, store, resolution, reconciliation and reports. A fresh inventory gets
two nights (the day before ``DEMO_NOW``, then ``DEMO_NOW``) so the report shows what is new;
later runs scan the second night again, and ``shadowit diff`` honestly reports no changes.
Demo credentials live in this process's environment only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.demo import DEMO_NOW, DOMAIN, NIGHT1, TENANT_DIR
from connectors.testing.google import FakeGoogle
from connectors.testing.graph import FakeGraph
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.app import config as configuration
from scanner.app.demo_answers import seed_demo
from scanner.app.operations import scan_and_report
from scanner.net.http import new_session
from scanner.store.database import Store, parse_iso

ENTRA_CLIENT = "0d3f5c7a-9b1e-4f2d-8c6a-5e4b3a2f1d0c"
ENTRA_SECRET_ENV = "SHADOWIT_DEMO_ENTRA_SECRET"  # noqa: S105 - a variable name
GOOGLE_KEY_ENV = "SHADOWIT_DEMO_GOOGLE_KEY"
OKTA_TOKEN_ENV = "SHADOWIT_DEMO_OKTA_TOKEN"  # noqa: S105 - a variable name

SANCTIONED = """\
# Larkspur Outdoor Co. technology-selection policy (demo)
[[apps]]
app = "HubSpot"
status = "sanctioned"
owner = "maya.shah@larkspur.example"
team = "Marketing Operations"
purpose = "Marketing automation, email campaigns, CRM for inbound leads"
approved_scopes = [
  "openid", "profile", "email", "offline_access", "User.Read", "Mail.Read", "Calendars.Read",
  "https://www.googleapis.com/auth/gmail.readonly",
  "https://www.googleapis.com/auth/calendar.readonly",
  "https://www.googleapis.com/auth/userinfo.email", "sso",
]
data_classification = "confidential"
approved_on = 2025-03-01
review_by = 2027-03-01

[[apps]]
app = "Mailchimp"
status = "sanctioned"
owner = "ana.silva@larkspur.example"
team = "Marketing"
purpose = "Newsletter"
approved_scopes = ["openid", "profile", "email", "offline_access", "User.Read", "Contacts.Read"]
approved_on = 2024-05-01
review_by = 2025-11-01

[[apps]]
app = "Canva"
status = "tolerated"
owner = "chloe.nguyen@larkspur.example"
team = "Brand"
purpose = "Social and event graphics"

[[apps]]
app = "Zoom"
status = "sanctioned"
owner = "it@larkspur.example"
team = "IT"
purpose = "Video meetings and webinars"
review_by = 2027-06-30

[[apps]]
app = "Salesforce"
status = "sanctioned"
owner = "sales-ops@larkspur.example"
team = "Sales"
purpose = "CRM"

[[apps]]
app = "Slack"
status = "sanctioned"
owner = "it@larkspur.example"
team = "IT"

[[apps]]
app = "GitHub"
status = "sanctioned"
owner = "eng@larkspur.example"
team = "Engineering"

[[apps]]
app = "Jira"
status = "sanctioned"
owner = "eng@larkspur.example"
team = "Engineering"

[[apps]]
app = "Figma"
status = "sanctioned"
owner = "chloe.nguyen@larkspur.example"
team = "Brand"

[[apps]]
app = "Workday"
status = "sanctioned"
owner = "people@larkspur.example"
team = "People"

[[apps]]
app = "Expensify"
status = "sanctioned"
owner = "finance@larkspur.example"
team = "Finance"

[[apps]]
app = "Sprout Social"
status = "sanctioned"
owner = "maya.shah@larkspur.example"
team = "Marketing"
purpose = "Social publishing"
review_by = 2027-01-31
renewal_date = 2027-01-05
notice_days = 30
annual_cost = 4788
cost_currency = "USD"
# The approved tool for social scheduling: people on another one are pointed here.
alternative_of = ["social_media"]

[[apps]]
app = "Grammarly"
status = "tolerated"
owner = "ana.silva@larkspur.example"
team = "Marketing"

[[apps]]
app = "Buffer"
status = "banned"
notes = "Replaced by Sprout Social in 2025; remove remaining grants."
"""


def run_demo(out: Path, now: datetime | None = None) -> dict[str, Any]:
    """Scan the demo tenant into ``out/`` and write the reports there; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    tenant = load_tenant()
    nights = [DEMO_NOW] if _has_finished_scan(out / "shadowit.db") else [NIGHT1, DEMO_NOW]
    if now is not None:
        nights = [now]
    summary: dict[str, Any] = {}
    for night in nights:
        with serve(tenant, night) as endpoints:
            config_path = write_config(out, endpoints)
            cfg = configuration.load(config_path)
            _rebase_cursors(cfg.store_path, endpoints["graph"])
            session = new_session(endpoints["ca_path"])
            summary = scan_and_report(cfg, now=night, session=session, sleep=_no_wait, out=out)
    store = Store.open(cfg.store_path)
    try:
        summary = seed_demo(store, cfg, nights[-1]) or summary
    finally:
        store.close()
    return summary


def load_tenant(folder: Path = TENANT_DIR) -> dict[str, Any]:
    def read(provider: str) -> dict[str, list[dict[str, Any]]]:
        return {
            path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((folder / provider).glob("*.json"))
        }

    return {
        "graph": read("graph"),
        "google": read("google"),
        "okta": read("okta"),
        "files": folder / "files",
        "night2": set(json.loads((folder / "night2.json").read_text(encoding="utf-8"))),
    }


def as_of(tenant: dict[str, Any], night: datetime) -> dict[str, Any]:
    """The tenant as the providers would show it at ``night``: later items held back."""
    hold = tenant["night2"] if night < DEMO_NOW else set()

    def keep(item: dict[str, Any], when: str | None = None) -> bool:
        if when is not None:
            stamp = parse_iso(when.replace(".000Z", "Z"))
            if stamp is not None and stamp > night:
                return False
        ident = item.get("id")
        if isinstance(ident, dict):
            ident = ident.get("uniqueQualifier")
        token_key = f"{item.get('clientId')}|{item.get('userKey')}"
        return ident not in hold and token_key not in hold

    graph = {
        name: [
            i
            for i in items
            if keep(i, i.get("createdDateTime") or i.get("activityDateTime"))
            and i.get("clientId") not in hold
        ]
        for name, items in tenant["graph"].items()
    }
    google = {
        name: [
            i
            for i in items
            if keep(i, (i.get("id") or {}).get("time") if "activities" in name else None)
        ]
        for name, items in tenant["google"].items()
    }
    okta = {
        name: [i for i in items if keep(i, i.get("published"))]
        for name, items in tenant["okta"].items()
    }
    return {"graph": graph, "google": google, "okta": okta}


@contextmanager
def serve(tenant: dict[str, Any], night: datetime) -> Iterator[dict[str, Any]]:
    """Start the three fake providers for ``night``; yield their URLs and credentials."""
    data = as_of(tenant, night)
    g = data["graph"]
    # Service principals added after the first night go in as changes, so a delta link kept
    # from an earlier night sees them as new, as Graph's delta query would.
    first_night = as_of(tenant, NIGHT1)["graph"]["servicePrincipals"]
    known = {sp["id"] for sp in first_night}
    graph = FakeGraph(
        users=g["users"],
        service_principals=first_night,
        grants=g["oauth2PermissionGrants"],
        app_role_assignments=g["appRoleAssignments"],
        sign_ins=g["signIns"],
        directory_audits=g["directoryAudits"],
        sp_activities=g["servicePrincipalSignInActivities"],
        page_size=20,
    )
    for sp in g["servicePrincipals"]:
        if sp["id"] not in known:
            graph.upsert_service_principal(sp)
    entra_secret = "demo-" + os.urandom(12).hex()
    graph.add_client(ENTRA_CLIENT, secret=entra_secret)
    go = data["google"]
    google = FakeGoogle(
        go["users"],
        go["tokens"],
        {app: go.get(f"activities-{app}", []) for app in ("token", "login", "saml")},
    )
    okta_token = "demo-" + os.urandom(12).hex()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in data["okta"]["app_users"]:
        grouped.setdefault(item["appId"], []).append(item)
    okta = FakeOkta(
        apps=data["okta"]["apps"],
        app_users=grouped,
        users=data["okta"]["users"],
        logs=data["okta"]["logs"],
        api_tokens={okta_token: None},
        now=lambda: night,
    )
    okta.max_page = 10
    with ExitStack() as stack:
        graph_server = stack.enter_context(LoopbackServer(graph, tls=True))
        google_server = stack.enter_context(LoopbackServer(google))
        okta_server = stack.enter_context(LoopbackServer(okta))
        key = google.add_service_account(token_uri=f"{google_server.url}/token")
        os.environ[ENTRA_SECRET_ENV] = entra_secret
        os.environ[GOOGLE_KEY_ENV] = json.dumps(key)
        os.environ[OKTA_TOKEN_ENV] = okta_token
        try:
            yield {
                "graph": graph_server.url,
                "tenant": graph.tenant,
                "google": google_server.url,
                "okta": okta_server.url,
                "ca_path": graph_server.ca_path,
                "files": tenant["files"],
                "fakes": {"graph": graph, "google": google, "okta": okta},
                "admin": next(u["primaryEmail"] for u in go["users"] if u.get("isAdmin")),
            }
        finally:
            for name in (ENTRA_SECRET_ENV, GOOGLE_KEY_ENV, OKTA_TOKEN_ENV):
                os.environ.pop(name, None)


def write_config(out: Path, endpoints: dict[str, Any]) -> Path:
    """The demo's config.toml, pointing at this run's local providers."""
    files = out / "imports"
    files.mkdir(exist_ok=True)
    for name in ("expenses.csv", "usage.csv"):
        shutil.copyfile(endpoints["files"] / name, files / name)
    (out / "sanctioned.toml").write_text(SANCTIONED, encoding="utf-8")
    text = f"""\
# Written by `shadowit demo`: the local demo providers listen only while the demo runs, so use
# this file for `shadowit report`, `findings`, `diff` and `scans`; `scan` needs `shadowit demo`.
[organisation]
name = "Larkspur Outdoor Co."
marketing_departments = ["Marketing"]
marketing_groups = ["/Marketing"]
own_domains = ["{DOMAIN}"]
own_tenant_ids = ["5b1f3c2e-8a4d-4c6e-9f1a-2d3e4f5a6b7c"]

[store]
path = "shadowit.db"

[report]
out = "."

[sanctioned]
file = "sanctioned.toml"

[sources.entra]
tenant_id = "{endpoints["tenant"]}"
client_id = "{ENTRA_CLIENT}"
client_secret_env = "{ENTRA_SECRET_ENV}"
authority_host = "{endpoints["graph"]}"
graph_url = "{endpoints["graph"]}"
ca_bundle = "{endpoints["ca_path"]}"
# The local stand-in does not throttle the audit-log reports the way Graph does.
reports_calls = 1000

[sources.google]
admin_email = "{endpoints["admin"]}"
key_env = "{GOOGLE_KEY_ENV}"
api_root = "{endpoints["google"]}/"
token_uri = "{endpoints["google"]}/token"

[sources.okta]
org_url = "{endpoints["okta"]}"
token_env = "{OKTA_TOKEN_ENV}"

[sources.files]
[[sources.files.imports]]
path = "imports/expenses.csv"
kind = "expenses"
source_name = "expenses"
[sources.files.imports.columns]
vendor = "Merchant"
amount = "Amount"
currency = "Currency"
date = "Date"
email = "Employee Email"

[[sources.files.imports]]
path = "imports/usage.csv"
kind = "usage"
source_name = "browser-usage"
[sources.files.imports.columns]
domain = "domain"
user = "user"
last_used = "last_used"
"""
    path = out / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _rebase_cursors(store_path: Path, graph_url: str) -> None:
    """Point stored Graph delta links at this run's stand-in.

    A real Graph endpoint keeps its address between nights; the demo's stand-in gets a new
    port each run, so its delta links are moved along, as if the host had stayed put.
    """
    if not store_path.exists():
        return
    store = Store.open(store_path)
    try:
        store.rewrite_cursors(
            "entra", lambda cursor: re.sub(r"^https://127\.0\.0\.1:\d+", graph_url, cursor)
        )
    finally:
        store.close()


def _has_finished_scan(path: Path) -> bool:
    if not path.exists():
        return False
    store = Store.open(path)
    try:
        return store.latest_scan() is not None
    finally:
        store.close()


def _no_wait(_seconds: float) -> None:
    """The demo's providers never throttle for long; don't make the reader wait."""
