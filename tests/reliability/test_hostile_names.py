"""Names are data, never control; addresses are checked where they enter.

A local Okta org (loopback) whose app labels carry a bidi override, NUL, ESC sequences, CR LF
with a forged log line and a zero-width joiner, and whose directory gives Alice the mail
``alice.moreau@acme.example\\n`` and Bob ``bob.nakamura@acme.example\\r\\nBcc: evil@...``. One
real ``shadowit scan`` (CLI, reports html + json), then ``findings``, ``diff``, ``confirm plan``
and ``confirm send`` (message files), the confirmation page and an answer to it. Each output is
checked: the terminal and log lines show the characters as escapes, the HTML report and the
page show them as ``⟨U+202E⟩`` and keep NUL and ESC out of the DOM, ``report.json`` keeps the
exact names, no malformed address reaches a message header, and a warning names each record
whose address was dropped.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from reports.confirm.links import LinkSigner
from reports.confirm.mail import DeliveryError, LinkItem, compose
from reports.confirm.server import ConfirmApp
from scanner.analysis import confirm
from scanner.app.cli import main
from scanner.app.config import load
from scanner.core import names
from scanner.core.errors import ConfigError
from scanner.store.database import Store
from tests.reliability.conftest import Observe

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "okta"
TOKEN_ENV = "SHADOWIT_TEST_OKTA_TOKEN"
KEY_ENV = "SHADOWIT_TEST_NAMES_KEY"
KEY = "n" * 24 + "-names-signing-key-0123456789"

HOSTILE_APPS = {
    "0oa1sfdcA8bXkQ2Lp5d7": "Invoice\u202etxt.exe",
    "0oa2slackT4vRw9Lq1d7": "Brandly\r\nINFO reports.confirm.server: forged line",
    "0oa3canvaZp8Kd2Xw3d7": "Adwise\x1b[2J\x1b]0;pwned\x07",
    "0oa4hubspHn3Qm7Vt2d7": "Quill\x00pad",
    "0oa5wikiBk6Fn1Rz8d7": "Pay\u200dloop",
}
"""Okta app id -> its hostile label."""
LATE_APP = "0oa7lateQw1Er2Ty3d7"
LATE_NAME = "Team\u202eikiW\r\nERROR scanner: forged\x1b[31m"
VISIBLE = {
    "Invoice\u202etxt.exe": "Invoice\u27e8U+202E\u27e9txt.exe",
    "Quill\x00pad": "Quill\u27e8U+0000\u27e9pad",
    "Adwise\x1b[2J\x1b]0;pwned\x07": (
        "Adwise\u27e8U+001B\u27e9[2J\u27e8U+001B\u27e9]0;pwned\u27e8U+0007\u27e9"
    ),
    "Pay\u200dloop": "Pay\u27e8U+200D\u27e9loop",
}
"""How a page shows each name (CR LF is a line break there, as an HTML parser makes it)."""
BAD_MAIL = {
    "00u1aliceQ3mR7sT2d7": "alice.moreau@acme.example\n",
    "00u2bobK8pL2nV5wXd7": "bob.nakamura@acme.example\r\nBcc: evil@x.example",
}
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
}


def hidden(text: str, allow: str = "\n") -> list[str]:
    """Control, format (bidi, zero-width) and separator characters in ``text``."""
    found = {
        c
        for c in text
        if c not in allow and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    }
    return sorted(f"U+{ord(c):04X}" for c in found)


def hostile_org() -> FakeOkta:
    fake = FakeOkta.from_dir(PAYLOADS, api_tokens={"scan-token": None})
    for number, app in enumerate(fake.apps):
        if app["id"] in HOSTILE_APPS:
            # A bookmark to an unknown tool: no catalog entry renames it, so the hostile label
            # is the app's name everywhere.
            app.update(label=HOSTILE_APPS[app["id"]], name="bookmark", status="ACTIVE")
            app.update(signOnMode="BOOKMARK")
            app["settings"] = {"app": {"url": f"https://tool-{number}.example/home"}}
    for user in fake.users:
        user["status"] = "ACTIVE"
        user["profile"]["department"] = "Marketing"
        if user["id"] in BAD_MAIL:
            user["profile"]["email"] = user["profile"]["login"] = BAD_MAIL[user["id"]]
    for members in fake.app_users.values():
        for member in members:
            if member["id"] in BAD_MAIL:
                member["profile"]["email"] = BAD_MAIL[member["id"]]
    fake.logs = []
    return fake


CONFIG = """\
[organisation]
name = "Acme"
marketing_departments = ["Marketing"]
own_domains = ["acme.example"]

[store]
path = "inventory.db"

[report]
out = "reports"
formats = ["html", "json"]

[sources.okta]
org_url = "{org_url}"
token_env = "{token_env}"

[confirm]
secret_env = "{key_env}"
fallback_owner = "mops@acme.example"
link_base_url = "http://127.0.0.1:8765"
out = "confirm-requests"
"""


class Lines(logging.Handler):
    """Every formatted log line of our loggers, as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def log_lines() -> Iterator[list[str]]:
    handler = Lines()
    loggers = [logging.getLogger(n) for n in ("scanner", "connectors", "reports")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@dataclass
class Run:
    folder: Path
    config: Path
    outputs: dict[str, str]
    """command -> what it printed."""
    logs: list[str]
    messages: list[Path]


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 3), (args, result.output[-2000:])
    return result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("hostile-names")
    patch = pytest.MonkeyPatch()
    patch.setenv(TOKEN_ENV, "scan-token")
    patch.setenv(KEY_ENV, KEY)
    try:
        org = hostile_org()
        with LoopbackServer(org) as server:
            config = folder / "config.toml"
            config.write_text(
                CONFIG.format(org_url=server.url, token_env=TOKEN_ENV, key_env=KEY_ENV),
                encoding="utf-8",
            )
            outputs = {}
            with log_lines() as logs:
                cli("--log-level", "debug", "scan", "--config", str(config))
                # The second scan finds one more app, so the summary and diff name a new app.
                late = {**org.apps[4], "id": LATE_APP, "label": LATE_NAME, "status": "ACTIVE"}
                late["settings"] = {"app": {"url": "https://late-tool.example/home"}}
                org.apps.append(late)
                org.app_users[LATE_APP] = [org.app_users[org.apps[0]["id"]][-1]]
                outputs["scan"] = cli("--log-level", "debug", "scan", "--config", str(config))
                outputs["findings"] = cli("findings", "--config", str(config))
                outputs["diff"] = cli("diff", "--config", str(config))
                outputs["confirm plan"] = cli("confirm", "plan", "--config", str(config))
                outputs["confirm send"] = cli("confirm", "send", "--config", str(config))
        messages = sorted((folder / "confirm-requests").rglob("*.eml"))
        yield Run(folder, config, outputs, logs, messages)
    finally:
        patch.undo()
        shutil.rmtree(folder, ignore_errors=True)


# -- terminal -------------------------------------------------------------------------------
def test_terminal_output_shows_escapes_never_raw_controls(run: Run, observe: Observe) -> None:
    for command, text in run.outputs.items():
        assert not hidden(text), (command, hidden(text))
    scan, plan = run.outputs["scan"], run.outputs["confirm plan"]
    assert (
        "new since the last scan: Team\\u202eikiW\\x0d\\x0aERROR scanner: forged\\x1b[31m" in scan
    )
    assert "Brandly\\x0d\\x0aINFO reports.confirm.server: forged line" in run.outputs["findings"]
    planned = [line for line in plan.splitlines() if line]
    assert planned and all(line.startswith(("ask", "no one to ask")) for line in planned), plan
    assert any("Adwise\\x1b[2J\\x1b]0;pwned\\x07" in line for line in planned), plan
    assert (
        "Pay\\u200dloop" in run.outputs["findings"] and "Quill\\x00pad" in run.outputs["findings"]
    )
    assert (
        "New apps: Team\\u202eikiW\\x0d\\x0aERROR scanner: forged\\x1b[31m" in run.outputs["diff"]
    )
    observe(
        "hostile",
        "terminal: app labels with ESC (clear screen, set title, BEL), CR LF + forged log line, "
        "U+202E, NUL, ZWJ from a loopback Okta; through scan, findings, diff, confirm plan/send",
        "every output free of raw control, bidi and zero-width characters; shown as \\x1b, "
        "\\x0d\\x0a, \\u202e, \\x00, \\u200d; confirm plan one line per request",
    )


# -- log lines ------------------------------------------------------------------------------
LOG_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (scanner|connectors|reports)[\w.]*: ")


def assert_log_lines(lines: list[str]) -> None:
    for line in lines:
        assert "\n" not in line and "\r" not in line, repr(line[:200])
        assert not hidden(line, allow=""), (line[:200], hidden(line, allow=""))
        assert LOG_LINE.match(line), f"a line no logger call made: {line[:120]!r}"
        assert len(line) < 2500


def test_log_lines_escape_provider_text(run: Run, observe: Observe) -> None:
    with log_lines() as lines:
        client = page_client(run)
        token = link_for(run, "Brandly\r\nINFO reports.confirm.server: forged line")
        page = client.get(f"/c/{token}")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True))
        assert csrf is not None
        done = client.post(
            f"/c/{token}", data={"answer": "mine", "purpose": "ads", "csrf": csrf.group(1)}
        )
        assert done.status_code == 200
    recorded = [line for line in lines if "recorded answer" in line]
    assert len(recorded) == 1 and "Brandly\\x0d\\x0aINFO reports" in recorded[0], lines
    assert_log_lines(run.logs + lines)
    observe(
        "hostile",
        "log lines: a scan at debug level and a confirmation answer for an app named "
        "'Brandly\\r\\nINFO reports.confirm.server: forged line'",
        f"{len(run.logs) + len(lines)} log lines, each one line starting with level and logger; "
        "the name logged as Brandly\\x0d\\x0aINFO ...: no forged line",
    )


# -- the HTML report and report.json --------------------------------------------------------
class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.data_json = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_data = tag == "script" and ("id", "report-data") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data_json += data
        else:
            self.text.append(data)


def test_html_report_shows_hidden_characters_and_json_keeps_them(
    run: Run, observe: Observe
) -> None:
    html = (run.folder / "reports" / "report.html").read_bytes().decode("utf-8")
    assert not hidden(html, allow="\n\t"), hidden(html, allow="\n\t")
    parsed = Text()
    parsed.feed(html)
    data = json.loads(parsed.data_json)
    shown_names = {a["name"] for a in data["apps"]} | {
        n for a in data["apps"] for n in a.get("raw_names", [])
    }
    for raw, page in VISIBLE.items():
        assert page in shown_names, (page, sorted(shown_names))
        assert raw not in shown_names
    page_text = "".join(parsed.text)
    late = "Team\u27e8U+202E\u27e9ikiW\nERROR scanner: forged\u27e8U+001B\u27e9[31m"
    assert late in page_text, "the new-apps list, rendered in the markup"
    assert "\x00" not in page_text and "\x1b" not in page_text
    for row in data["apps"]:
        assert not hidden(json.dumps(row, ensure_ascii=False), allow=""), row["name"]
    report = json.loads((run.folder / "reports" / "report.json").read_text(encoding="utf-8"))
    exact = {n for a in report["apps"] for n in a["raw_names"]}
    assert set(HOSTILE_APPS.values()) <= exact, "report.json keeps the exact names"
    observe(
        "hostile",
        "HTML report: app names with U+202E, NUL, ESC, CR LF and ZWJ",
        "markup and embedded JSON show them as \u27e8U+202E\u27e9, \u27e8U+0000\u27e9, "
        "\u27e8U+001B\u27e9, \u27e8U+200D\u27e9 (CR LF a line break); no NUL or ESC in the DOM; "
        "report.json keeps each exact name",
    )


# -- the confirmation page ------------------------------------------------------------------
def page_client(run: Run) -> Client:
    return Client(ConfirmApp.from_config(load(run.config)))


def link_for(run: Run, app_name: str) -> str:
    store = Store.open(load(run.config).store_path)
    try:
        asked = next(r for r in confirm.requests(store) if r.app_name == app_name)
    finally:
        store.close()
    return LinkSigner(KEY, 14).token(asked.id, asked.app_key, asked.owner)


def test_confirmation_page_shows_hidden_characters(run: Run, observe: Observe) -> None:
    client = page_client(run)
    seen = 0
    for raw, shown in VISIBLE.items():
        page = client.get(f"/c/{link_for(run, raw)}").get_data(as_text=True)
        assert not hidden(page, allow="\n\t"), (shown, hidden(page, allow="\n\t"))
        assert shown in page, shown
        seen += 1
    observe(
        "hostile",
        "confirmation page: apps named with U+202E, NUL, ESC and ZWJ",
        f"{seen} pages, each showing the name with \u27e8U+XXXX\u27e9 marks; no control, bidi "
        "or zero-width character in the page",
    )


# -- addresses and message headers ----------------------------------------------------------
def read(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def test_bad_idp_addresses_never_reach_a_header(run: Run, observe: Observe) -> None:
    assert run.messages, run.outputs["confirm send"]
    recipients = set()
    for path in run.messages:
        raw = path.read_bytes()
        assert b"evil@x.example" not in raw and b"Bcc" not in raw, path.name
        message = read(path)
        assert not message.defects, (path.name, message.defects)
        assert set(message.keys()) == HEADERS, sorted(message.keys())
        to = str(message["To"])
        assert names.is_email(to) and to.isprintable(), repr(to)
        recipients.add(to)
        assert message.get_content().count("http://127.0.0.1:8765/c/") >= 1
    assert recipients <= {"mops@acme.example", "carol.diaz@acme.example", "dan.okafor@acme.example"}
    store = Store.open(load(run.config).store_path)
    try:
        warnings = [w for s in store.source_runs(1) for w in s.warnings]
        emails = {r["email"] for r in store.db.query("SELECT email FROM users")}
    finally:
        store.close()
    for user_id, bad in BAD_MAIL.items():
        named = [w for w in warnings if w.startswith(f"users: user {user_id}: ignored")]
        assert len(named) == 1, warnings
        assert names.one_line(repr(bad)) in named[0]
        assert bad not in emails and bad.lower() not in emails
    observe(
        "hostile",
        "IdP mail attributes 'alice...@acme.example\\n' and "
        "'bob...@acme.example\\r\\nBcc: evil@...' (loopback Okta), then confirm send",
        f"{len(run.messages)} message files parse with email.parser without defects, only the "
        "nine expected headers, To always a valid address, no Bcc; each bad address dropped "
        "with a warning naming the user id (the person is keyed by id)",
    )


def test_compose_refuses_an_address_with_a_line_break(observe: Observe) -> None:
    item = LinkItem("r1", "Canva", "http://127.0.0.1:8765/c/x", datetime.now(UTC), "why", "new")
    for bad in BAD_MAIL.values():
        with pytest.raises(DeliveryError, match="owner: .* is not an email address"):
            compose(bad, [item], "it@acme.example", "Acme", 2, datetime.now(UTC))
        with pytest.raises(DeliveryError, match="confirm.from_addr: .* no message is made"):
            compose("ana@acme.example", [item], bad, "Acme", 2, datetime.now(UTC))
    observe(
        "hostile",
        "a message composed directly for an owner or a From with a line break",
        "refused with DeliveryError naming owner / confirm.from_addr; no message is made",
    )


def test_stored_request_with_a_bad_owner_is_closed_and_reasked(run: Run, observe: Observe) -> None:
    cfg = load(run.config)
    store = Store.open(cfg.store_path)
    try:
        pending = confirm.requests(store, "pending")
        victim = next(r for r in pending if r.owner == "mops@acme.example")
        store.db.execute(
            "UPDATE confirm_requests SET owner = ?, last_sent = NULL WHERE id = ?",
            [BAD_MAIL["00u1aliceQ3mR7sT2d7"], victim.id],
        )
        store.db.conn.commit()
        with log_lines() as lines:
            plan = confirm.plan(store, cfg, confirm.settings(cfg), datetime.now(UTC))
    finally:
        store.close()
    assert victim.id in {r.id for r in plan.closing}
    again = [d for d in plan.deliveries if d.app_key == victim.app_key]
    assert [d.owner for d in again] == ["mops@acme.example"], again
    assert all(names.is_email(d.owner) for d in plan.deliveries)
    warned = [line for line in lines if victim.id in line]
    assert len(warned) == 1 and "\\n" in warned[0], lines
    assert_log_lines(lines)
    observe(
        "hostile",
        "a pending confirmation request stored with the owner 'alice...@acme.example\\n' "
        "(before addresses were checked)",
        "the plan closes it with a warning naming the request and asks the next owner",
    )


def test_config_and_form_addresses_are_checked(tmp_path: Path, observe: Observe) -> None:
    config = tmp_path / "config.toml"
    base = CONFIG.format(org_url="http://127.0.0.1:1", token_env=TOKEN_ENV, key_env=KEY_ENV)
    config.write_text(base.replace('"mops@acme.example"', '"mops@acme.example\\n"'), "utf-8")
    with pytest.raises(ConfigError, match=r"confirm.fallback_owner: 'mops@acme.example\\n' is"):
        confirm.settings(load(config))
    sanctioned = tmp_path / "sanctioned.csv"
    sanctioned.write_text('app,status,owner\nCanva,tolerated,"a@acme.example\nBcc: e@x"\n')
    config.write_text(base + '\n[sanctioned]\nfile = "sanctioned.csv"\n', "utf-8")
    cli_result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert cli_result.exit_code == 2, cli_result.output
    assert "sanctioned.csv:3: owner 'a@acme.example\\nBcc: e@x' for Canva" in cli_result.output
    request = confirm.ConfirmRequest(
        "r1", "cat:canva", "Canva", "ana@acme.example", "why", "pending", datetime.now(UTC)
    )
    for bad in ("bob@acme.example\r\nBcc: evil@x.example", "Bob <bob@acme.example>"):
        form = confirm.FormAnswer("not_ours", suggested_owner=bad)
        with pytest.raises(confirm.AnswerError, match="should be an email address"):
            confirm.validate_answer(form, request, load(config).organisation)
    observe(
        "hostile",
        "addresses in config (fallback_owner with \\n, a sanctioned-list owner with a Bcc line) "
        "and in the page's 'who owns it' field (CR LF Bcc, display name)",
        "config: exit 2 naming confirm.fallback_owner or sanctioned.csv:3 with the escaped "
        "value; form: 'should be an email address', nothing recorded",
    )
