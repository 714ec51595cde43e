"""``shadowit serve`` under hostile clients, and report / message files under kills.

The server tests run the real waitress server on 127.0.0.1 (an ephemeral port, in a thread)
and talk to it over raw sockets or ``http.client``: an over-long request line or head, an idle
connection, a too-large body, a store locked by another writer, a bug in a page, forged log
lines. Idle connections are timed against the server's injected clock, never by waiting.

The write tests stop a report set half-way (a format that raises, and a real SIGKILL of a
child process between two files) and check that the previous set is intact, that no set is
ever mixed from two scans, and that the next run leaves no temporary file behind.
"""

from __future__ import annotations

import csv
import http.client
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from reports import staging
from reports.confirm import send_requests
from reports.confirm.links import LinkSigner
from reports.confirm.mail import LinkItem, Outgoing, write_files
from reports.confirm.server import SECURITY_HEADERS, ConfirmApp
from reports.confirm.serving import ConfirmServer, ServeLimits, create_server
from reports.render import FORMATS, PUBLISH_LOCK, REPORT_FILES, render, tidy
from scanner.analysis import confirm
from scanner.analysis.risk import ScopeInfo, ScopeTable
from scanner.app.config import Config
from scanner.core.errors import ConfigError
from scanner.store.database import Store
from tests.reliability.conftest import Observe
from tests.test_confirm_support import KEY, NOW, Clock, inventory, report, signing_key

BASE = "http://127.0.0.1:8765"
LOGGER = "reports.confirm.server"


# -- helpers -------------------------------------------------------------------------------
@pytest.fixture
def sent(tmp_path: Path) -> tuple[Config, dict[str, str]]:
    """An inventory with requests sent; app name -> link path."""
    config = inventory(tmp_path)
    with signing_key():
        store = Store.open(config.store_path)
        try:
            result = send_requests(store, config, NOW)
        finally:
            store.close()
    with result.files[-1].open(encoding="utf-8") as handle:
        links = {r["app"]: r["link"].removeprefix(BASE) for r in csv.DictReader(handle)}
    return config, links


def _app(config: Config, scopes: ScopeTable | None = None) -> ConfirmApp:
    clock = Clock(NOW + timedelta(hours=1))
    with signing_key():
        app = ConfirmApp.from_config(config, clock=clock, lock_wait=0.05)
    if scopes is not None:
        s = confirm.settings(config)
        app = ConfirmApp(config, s, LinkSigner(KEY, s.expiry_days, clock), scopes, clock, 0.05)
    return app


class _Later:
    """The server's clock, moved forward by the test instead of by waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@contextmanager
def serving(
    app: ConfirmApp, limits: ServeLimits | None = None, clock: _Later | None = None
) -> Iterator[ConfirmServer]:
    server = create_server(app, limits or ServeLimits(), "127.0.0.1", 0, clock or time.time)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(5)
        assert not thread.is_alive(), "the server stops when asked"


def _raw(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _head(answer: bytes) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split(" ")[1]), headers


def _has_security_headers(headers: Any) -> bool:
    return all(headers.get(name) == value for name, value in SECURITY_HEADERS.items())


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger(LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _get(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    response.read()
    return response


def _post(port: int, path: str, body: bytes, cookie: str) -> tuple[int, Any, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    conn.request(
        "POST",
        path,
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    text = response.read().decode("utf-8")
    return response.status, response.headers, text


def _form(port: int, path: str) -> tuple[str, str]:
    """Open the page like a browser: its CSRF cookie and the form's token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    conn.request("GET", path)
    response = conn.getresponse()
    html = response.read().decode("utf-8")
    assert response.status == 200, html
    cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match
    return cookie, match.group(1)


# -- the server ------------------------------------------------------------------------------
def test_an_over_long_request_line_gets_414_with_the_security_headers(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, _links = sent
    with log_lines() as lines, serving(_app(config)) as server:
        line = b"GET /c/" + b"A" * (70 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        status, headers = _head(_raw(server.port, line))
        assert status == 414
        assert _has_security_headers(headers)
        long_head = b"GET /healthz HTTP/1.1\r\n" + b"X-Pad: " + b"b" * (40 * 1024) + b"\r\n\r\n"
        head_status, head_headers = _head(_raw(server.port, long_head))
        assert head_status == 431
        assert _has_security_headers(head_headers)
        assert _get(server.port, "/healthz").status == 200, "the server still answers"
    assert max(len(line) for line in lines) < 200, "no request line reaches the log"
    assert "- - 414 refused: URI Too Long" in "\n".join(lines)
    observe(
        "serve",
        "serve: a 70 KiB request line; a 40 KiB header",
        "414 URI Too Long and 431, both with CSP, X-Frame-Options, Referrer-Policy, no-store; "
        "one short log line each; the server keeps answering",
    )


def test_an_idle_connection_is_closed_after_the_idle_timeout(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, _links = sent
    clock = _Later()
    limits = ServeLimits(idle_timeout=30)
    with serving(_app(config), limits, clock) as server:
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=3)
        fresh = socket.create_connection(("127.0.0.1", server.port), timeout=3)
        with idle, fresh:
            server.pull_trigger()  # a look for idle connections, before any time passed
            fresh.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert fresh.recv(65536).startswith(b"HTTP/1.1 200"), "not closed too early"
            clock.ahead = 31.0 + 15
            server.pull_trigger()
            assert idle.recv(1) == b"", "the idle connection was closed by the server"
    observe(
        "serve",
        "serve: a client opens a connection and sends nothing (slowloris)",
        "closed once it has been idle for confirm.idle_timeout (30 s default; waitress "
        "channel_timeout); a connection in use is kept",
    )


def test_a_body_over_the_form_limit_gets_413_with_the_security_headers(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, links = sent
    with serving(_app(config)) as server:
        declared = (
            f"POST {links['Canva']} HTTP/1.1\r\nHost: x\r\nContent-Length: {200 * 1024}\r\n\r\n"
        ).encode()
        status, headers = _head(_raw(server.port, declared))
        chunked = (
            f"POST {links['Canva']} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode() + (b"8000\r\n" + b"x" * 0x8000 + b"\r\n") * 3
        chunked_status, chunked_headers = _head(_raw(server.port, chunked))
    assert (status, chunked_status) == (413, 413)
    assert _has_security_headers(headers) and _has_security_headers(chunked_headers)
    observe(
        "serve",
        "serve: a POST declaring 200 KiB; a chunked POST of 96 KiB",
        "413 with the security headers before the app reads anything; nothing recorded",
    )


def test_an_answer_while_the_store_is_locked_gets_503_and_counts_once_later(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, links = sent
    with serving(_app(config)) as server:
        cookie, token = _form(server.port, links["Jasper"])
        body = f"answer=stopped&note=Figma+instead&csrf={token}".encode()
        holder = sqlite3.connect(config.store_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process writing: the scan
            status, headers, page = _post(server.port, links["Jasper"], body, cookie)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        again, _headers, done = _post(server.port, links["Jasper"], body, cookie)
    assert status == 503, page
    assert headers["Retry-After"] == "30"
    assert _has_security_headers(headers)
    assert "Please try again in a minute" in page and "your link still works" in page
    assert again == 200 and "Thank you" in done
    store = Store.open(config.store_path)
    try:
        answers = [a for a in confirm.attestations(store) if a.app_name == "Jasper"]
    finally:
        store.close()
    assert [a.answer for a in answers] == ["stopped"], "recorded once, after the lock was gone"
    observe(
        "serve",
        "serve: a POST while another process holds the store's write lock",
        "503 with Retry-After: 30, the security headers and a 'try again in a minute' page; "
        "nothing recorded; the same form sent again is recorded once",
    )


class _BrokenScopes(ScopeTable):
    """A scope table with a bug in it: what a 500 looks like."""

    def __init__(self) -> None:
        super().__init__({})

    def info(self, scope: str, app_only: bool = False) -> ScopeInfo:
        raise RuntimeError("a bug")


def test_every_error_answer_carries_the_security_headers(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, links = sent
    with log_lines() as lines, serving(_app(config, _BrokenScopes())) as server:
        missing = _get(server.port, "/nothing")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
        conn.request("PUT", "/healthz")
        refused = conn.getresponse()
        refused.read()
        broken = _get(server.port, links["Jasper"])
    assert (missing.status, refused.status, broken.status) == (404, 405, 500)
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert all(_has_security_headers(r.headers) for r in (missing, refused, broken))
    token = links["Jasper"].rsplit("/", 1)[1]
    assert any("GET /c/<link> failed" in line for line in lines), "the bug is logged"
    assert not any(token in line for line in lines)
    observe(
        "serve",
        "serve: 404, 405, and a bug raising inside the page (500)",
        "each answered with CSP, X-Frame-Options, Referrer-Policy, nosniff and no-store; "
        "the 500's traceback is logged under /c/<link>, never the token",
    )


def test_access_log_lines_escape_what_the_client_sent(
    sent: tuple[Config, dict[str, str]], observe: Observe
) -> None:
    config, links = sent
    with log_lines() as lines, serving(_app(config)) as server:
        _get(server.port, "/x%0d%0aINFO%20forged%1b[2J%e2%80%ae")
        _get(server.port, links["Canva"] + "?secret=1")
    access = [line for line in lines if "forged" in line]
    assert len(access) == 1 and "\n" not in access[0] and "\x1b" not in access[0]
    assert "\\x0d\\x0aINFO forged\\x1b[2J" in access[0]
    assert "GET /c/<link> 200" in lines
    assert not any("secret" in line or links["Canva"] in line for line in lines)
    observe(
        "serve",
        "serve: a path with %0d%0a, ESC and U+202E; a link with a query string",
        "one access line with \\x0d\\x0a and \\x1b shown as escapes; links logged as "
        "/c/<link> without the query",
    )


def test_waitress_own_log_lines_name_no_token(sent: tuple[Config, dict[str, str]]) -> None:
    config, links = sent
    handler = _Lines()
    waitress_log = logging.getLogger("waitress")
    waitress_log.addHandler(handler)
    try:
        with serving(_app(config)):
            waitress_log.warning("Client disconnected while serving %s", links["Canva"] + "?x=1")
    finally:
        waitress_log.removeHandler(handler)
    assert handler.lines == ["Client disconnected while serving /c/<link>"]


def test_serving_settings_are_checked(sent: tuple[Config, dict[str, str]]) -> None:
    config, _links = sent
    s = confirm.settings(config)
    assert ServeLimits.from_settings(s) == ServeLimits()
    adjusted = ServeLimits(threads=2, idle_timeout=10).adjustments("127.0.0.1", 0)
    assert (adjusted.threads, adjusted.channel_timeout, adjusted.cleanup_interval) == (2, 10, 5)
    assert adjusted.max_request_body_size == 64 * 1024 + 1
    with pytest.raises(ConfigError, match=r"^confirm.idle_timeout: must be 1 or more"):
        ServeLimits.from_settings(type(s)(idle_timeout=0))
    with pytest.raises(ConfigError, match=r"^confirm.max_request_line: must not exceed"):
        ServeLimits.from_settings(type(s)(max_request_line=65536))


# -- report sets and message files -------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
SET = {"report.html", "report.json", "findings.csv", "apps.csv", "ownership.csv", "inventory.xlsx"}
"""What the four formats of ``ALL`` write (the crash child renders those)."""
ALL = ["html", "json", "csv", "xlsx"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Two report models that differ in one app's name: scan "A" and scan "B"."""
    config = inventory(tmp_path_factory.mktemp("models"))
    text = json.dumps(report(config))
    return {scan: json.loads(text.replace("Jasper", f"JasperScan{scan}")) for scan in "AB"}


def scan_of(path: Path) -> str:
    """Which model a report file was rendered from."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            data = b"".join(book.read(name) for name in book.namelist())
    else:
        data = path.read_bytes()
    found = {scan for scan in "AB" if f"JasperScan{scan}".encode() in data}
    assert len(found) == 1, f"{path.name} is from exactly one scan"
    return found.pop()


def scans_in(out: Path) -> dict[str, str]:
    return {name: scan_of(out / name) for name in SET}


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder`` but the report set and the publishing lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in SET | {PUBLISH_LOCK})


def kill_at_pause(*args: str) -> None:
    """Run the child until it says ``paused``, then SIGKILL it there."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.report_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "paused", child.stderr.read() if child.stderr else line
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


class _Raising:
    name = "boom"

    def render(self, model: Any, out_dir: Path) -> list[Path]:
        raise OSError(28, "No space left on device")


def test_the_formats_write_exactly_the_files_the_tidy_knows(
    models: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    written = render(models["A"], tmp_path, list(FORMATS))
    assert [p.name for p in written] == list(REPORT_FILES)
    assert all(p.parent == tmp_path and p.stat().st_mode & 0o777 == 0o600 for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*REPORT_FILES, PUBLISH_LOCK})


def test_a_format_failing_midway_leaves_the_previous_set_and_no_temp_files(
    models: dict[str, dict[str, Any]], tmp_path: Path, observe: Observe
) -> None:
    render(models["A"], tmp_path, ALL)
    known = {**FORMATS, "boom": _Raising()}
    with pytest.raises(OSError, match="No space left"):
        render(models["B"], tmp_path, ["html", "json", "boom", "csv", "xlsx"], known)
    assert set(scans_in(tmp_path).values()) == {"A"}
    assert leftovers(tmp_path) == []
    observe(
        "writes",
        "report: the third of four formats fails (disk full) after two were written",
        "the previous report set stays whole (all five files from the previous scan); the "
        "staging folder is removed at once",
    )


def test_sigkill_while_rendering_leaves_the_previous_set_and_the_next_run_tidies(
    models: dict[str, dict[str, Any]], tmp_path: Path, observe: Observe
) -> None:
    out = tmp_path / "out"
    render(models["A"], out, ALL)
    (tmp_path / "B.json").write_text(json.dumps(models["B"]), encoding="utf-8")
    kill_at_pause("render", str(tmp_path / "B.json"), str(out))
    assert set(scans_in(out).values()) == {"A"}, "a reader still sees the whole previous set"
    (killed,) = leftovers(out)
    assert killed.startswith(".shadowit-tmp-report-")
    earlier = out / ".report.html.ab12cd_3"  # what a kill left before sets were staged
    earlier.write_bytes(b"<html>half")
    os.utime(earlier, (time.time() - 60, time.time() - 60))
    (out / ".keep-me").write_text("not ours", encoding="utf-8")
    render(models["B"], out, ALL)
    assert set(scans_in(out).values()) == {"B"}
    assert leftovers(out) == [".keep-me"], "only our own leftovers are removed"
    observe(
        "writes",
        "report: SIGKILL after two of four formats were written",
        "report.html, report.json, apps.csv, findings.csv, inventory.xlsx all still from the "
        "previous scan; the next run removes the staging folder and older temp files, nothing "
        "else",
    )


def test_sigkill_between_two_renames_is_finished_by_the_next_run(
    models: dict[str, dict[str, Any]], tmp_path: Path, observe: Observe
) -> None:
    out = tmp_path / "out"
    render(models["A"], out, ALL)
    (tmp_path / "B.json").write_text(json.dumps(models["B"]), encoding="utf-8")
    kill_at_pause("publish", str(tmp_path / "B.json"), str(out))
    mixed = scans_in(out)
    assert mixed["report.html"] == "B" and set(mixed.values()) == {"A", "B"}, (
        "the documented window: a kill between renames leaves two scans side by side"
    )
    tidy(out, time.time())
    assert set(scans_in(out).values()) == {"B"}, "the next run first finishes the killed set"
    assert leftovers(out) == []
    observe(
        "writes",
        "report: SIGKILL after the first of five files was renamed into place",
        "until the next run, report.html is from the new scan and the rest from the previous "
        "one; the next run first finishes the renames, so the set is whole again",
    )


def test_a_live_runs_staging_folder_is_never_tidied(
    models: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    render(models["A"], tmp_path, ALL)
    live = staging.create(tmp_path, "report-")
    try:
        (live.path / "report.html").write_bytes(b"being written")
        render(models["B"], tmp_path, ALL)
        assert (live.path / "report.html").exists()
    finally:
        live.discard()
    assert leftovers(tmp_path) == []


def test_sigkill_while_writing_messages_leaves_no_partial_or_empty_message(
    tmp_path: Path, observe: Observe
) -> None:
    parent = tmp_path / "confirm-requests"
    kill_at_pause("mail", str(parent / "20261120T060000Z"))
    assert not (parent / "20261120T060000Z").exists(), "no folder with half the messages"
    (killed,) = parent.iterdir()
    assert killed.name.startswith(".shadowit-tmp-mail-20261120T060000Z-")
    item = LinkItem("r1", "Jasper", f"{BASE}/c/x", NOW, "uses it", "new")
    message = EmailMessage()
    message["To"] = "ana@acme.example"
    message.set_content("Please open the link.\n")
    files = write_files([Outgoing("ana@acme.example", (item,), message)], parent / "next")
    assert [p.name for p in files] == ["ana@acme.example.eml", "requests.csv"]
    assert sorted(p.name for p in parent.iterdir()) == ["next"], "the leftover is removed"
    assert all(p.stat().st_size > 0 and p.stat().st_mode & 0o777 == 0o600 for p in files)
    assert sorted(p.name for p in (parent / "next").iterdir()) == [p.name for p in files]
    observe(
        "writes",
        "confirm send: SIGKILL while the second of two message files is written",
        "no message folder appears (the set is renamed into place only when whole); no 0-byte "
        ".eml; the next send removes the hidden staging folder",
    )


def test_messages_into_an_existing_folder_replace_each_file_whole(tmp_path: Path) -> None:
    folder = tmp_path / "20261120T060000Z"
    folder.mkdir()
    (folder / "ana@acme.example.eml").write_bytes(b"")
    item = LinkItem("r1", "Jasper", f"{BASE}/c/x", NOW, "uses it", "new")
    out = []
    for to in ("ana@acme.example", "ana+x@acme.example", "ana_x@acme.example"):
        message = EmailMessage()
        message["To"] = to
        message.set_content("Please open the link.\n")
        out.append(Outgoing(to, (item,), message))
    files = write_files(out, folder)
    names = [p.name for p in files]
    assert names == [
        "ana@acme.example.eml",
        "ana_x@acme.example.eml",
        "ana_x@acme.example-2.eml",
        "requests.csv",
    ], "two addresses with the same file name each keep their message"
    assert all(p.stat().st_size > 0 for p in files)
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
