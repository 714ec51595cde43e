"""``shadowit serve`` as a service manager runs it: a real process on a free loopback port,
an access log on stderr by default, no Server header, and SIGTERM ending it with exit 0 after
the answer under way is sent, leaving no process behind."""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from reports.confirm import send_requests
from reports.confirm.links import LinkSigner
from reports.confirm.server import SECURITY_HEADERS
from scanner.analysis import confirm
from scanner.app.config import Config
from scanner.store.database import Store
from tests.test_confirm_support import KEY, KEY_ENV, NOW, inventory, signing_key

ANNOUNCED = re.compile(
    r"Serving confirmation links on http://127\.0\.0\.1:(\d+) "
    r"\(links point to http://127\.0\.0\.1:8765\); Ctrl-C or SIGTERM stops\.\n"
)


def shadowit() -> list[str]:
    """The installed ``shadowit`` entry point, as systemd or a container starts it."""
    script = Path(sys.executable).parent / "shadowit"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from scanner.app.cli import main; main()"]


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    stdout: queue.Queue[str]
    stderr: Path
    reader: threading.Thread

    def stop(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def ended(self, timeout: float = 10) -> tuple[int, str, str]:
        """Exit code, the rest of stdout, all of stderr."""
        code = self.process.wait(timeout)
        self.reader.join(timeout)
        rest = []
        while not self.stdout.empty():
            rest.append(self.stdout.get())
        return code, "".join(rest), self.stderr.read_text(encoding="utf-8")


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@contextmanager
def serve(config: Config, *extra: str) -> Iterator[Served]:
    """``shadowit serve --port 0`` in its own process; yields once it announced its port."""
    assert config.file is not None
    env = {**os.environ, KEY_ENV: KEY}
    stderr = config.file.parent / "serve.stderr"
    with stderr.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*shadowit(), "serve", "--config", str(config.file), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=config.file.parent,
        )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=30)
        match = ANNOUNCED.fullmatch(first)
        assert match, first
        yield Served(process, int(match.group(1)), lines, stderr, reader)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()


def link_for(config: Config, app_name: str) -> str:
    """A fresh link (signed now, on the wall clock the served process uses) for the pending
    request about ``app_name``."""
    store = Store.open(config.store_path)
    try:
        asked = next(r for r in confirm.requests(store, "pending") if r.app_name == app_name)
    finally:
        store.close()
    return "/c/" + LinkSigner(KEY, 14).token(asked.id, asked.app_key, asked.owner)


def processes_naming(text: str) -> list[int]:
    """Live processes (not zombies) whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def requested(tmp_path: Path) -> Config:
    """An inventory with confirmation requests sent."""
    config = inventory(tmp_path)
    with signing_key():
        store = Store.open(config.store_path)
        try:
            send_requests(store, config, NOW)
        finally:
            store.close()
    return config


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_finishes_the_answer_under_way_and_exits_0_leaving_nothing(
    requested: Config,
) -> None:
    link = link_for(requested, "Jasper")
    with serve(requested) as served:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        conn.request("GET", "/healthz")
        health = conn.getresponse()
        assert (health.status, health.read()) == (200, b"ok\n")
        assert "Server" not in health.headers and "Via" not in health.headers
        assert all(health.headers[name] == value for name, value in SECURITY_HEADERS.items())

        page = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        page.request("GET", link)
        shown = page.getresponse()
        html = shown.read().decode()
        assert shown.status == 200 and "Server" not in shown.headers
        cookie = shown.headers["Set-Cookie"].split(";", 1)[0]
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert csrf

        # A scan holds the store's write lock: the answer waits for it inside the server.
        holder = sqlite3.connect(requested.store_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        answered: dict[str, object] = {}

        def answer() -> None:
            post = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
            post.request(
                "POST",
                link,
                body=f"answer=stopped&note=moved&csrf={csrf.group(1)}",
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            response = post.getresponse()
            answered.update(status=response.status, body=response.read().decode())

        poster = threading.Thread(target=answer)
        poster.start()
        time.sleep(0.5)  # the answer is being handled, waiting for the lock
        stopped_at = time.monotonic()
        served.stop()
        time.sleep(0.5)
        holder.execute("ROLLBACK")
        holder.close()
        poster.join(20)
        code, out, err = served.ended()
        took = time.monotonic() - stopped_at

    assert code == 0, err
    assert took < 5, f"stopped after {took:.1f} s"
    assert answered["status"] == 200 and "Thank you" in str(answered["body"])
    assert out == "Stopped.\n"
    token = link.rsplit("/", 1)[1]
    assert token not in err
    assert err.splitlines() == [
        "INFO reports.confirm.server: GET /healthz 200",
        "INFO reports.confirm.server: GET /c/<link> 200",
        "INFO reports.confirm.server: SIGTERM: stopping",
        "INFO reports.confirm.server: recorded answer stopped for Jasper (request "
        + answer_id(requested, "Jasper")
        + ")",
        "INFO reports.confirm.server: POST /c/<link> 200",
    ]
    assert processes_naming(str(requested.file)) == [], "a process was left behind"
    with socket.socket() as again:
        # Nothing listens there any more (closed connections may linger in TIME_WAIT).
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", served.port))
        again.listen()


def answer_id(config: Config, app_name: str) -> str:
    store = Store.open(config.store_path)
    try:
        return next(r.id for r in confirm.requests(store) if r.app_name == app_name)
    finally:
        store.close()


def test_no_access_log_leaves_stderr_empty_and_sigterm_still_exits_0(requested: Config) -> None:
    with serve(requested, "--no-access-log") as served:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        served.stop()
        code, out, err = served.ended()
    assert (code, out) == (0, "Stopped.\n")
    assert "GET /healthz" not in err
