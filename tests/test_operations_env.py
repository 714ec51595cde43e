"""Local provider stand-ins for the operations tests (doctor, secret scan, interrupted scans).

``local_providers()`` serves the embedded demo tenant from FakeGraph (TLS), FakeGoogle and
FakeOkta on 127.0.0.1 with known secret values, and writes a config that any process can use
(the Graph CA is in ``ca_bundle``), so ``shadowit doctor`` and ``shadowit scan`` run through
the CLI unchanged. Other test modules import it; the tests below check the helper itself.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from connectors.demo import DEMO_NOW, TENANT_DIR
from connectors.testing.google import FakeGoogle
from connectors.testing.graph import FakeGraph
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.app import config as configuration
from scanner.app.demo import (
    ENTRA_CLIENT,
    ENTRA_SECRET_ENV,
    GOOGLE_KEY_ENV,
    OKTA_TOKEN_ENV,
    write_config,
)

ENTRA_SECRET = "entra-Secret~Qx7vN2pL9wR4tZ8k"
OKTA_TOKEN = "00okta-Token-Hj3Kf8Lm2Np5Qr7St9"


@dataclass
class Providers:
    config_path: Path
    graph: FakeGraph
    google: FakeGoogle
    okta: FakeOkta
    ca_path: str
    secrets: list[str] = field(default_factory=list)
    """Every secret value a scan handles: client secret, API token, private key lines."""

    def config(self) -> configuration.Config:
        return configuration.load(self.config_path)

    def issued_tokens(self) -> list[str]:
        """Bearer tokens the fakes handed out (they are secrets too)."""
        return list(self.graph.tokens_issued) + list(self.google.issued)


@contextmanager
def local_providers(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    night: datetime = DEMO_NOW,
    extra_config: str = "",
) -> Iterator[Providers]:
    """Serve the demo tenant; yield a Providers whose config points at the local fakes."""
    folder.mkdir(parents=True, exist_ok=True)
    graph = FakeGraph.from_dir(TENANT_DIR / "graph", page_size=20)
    graph.add_client(ENTRA_CLIENT, secret=ENTRA_SECRET)
    google = FakeGoogle.from_dir(TENANT_DIR / "google")
    okta = FakeOkta.from_dir(TENANT_DIR / "okta", api_tokens={OKTA_TOKEN: None}, now=lambda: night)
    okta.max_page = 10
    with ExitStack() as stack:
        graph_server = stack.enter_context(LoopbackServer(graph, tls=True))
        google_server = stack.enter_context(LoopbackServer(google))
        okta_server = stack.enter_context(LoopbackServer(okta))
        key = google.add_service_account(token_uri=f"{google_server.url}/token")
        monkeypatch.setenv(ENTRA_SECRET_ENV, ENTRA_SECRET)
        monkeypatch.setenv(GOOGLE_KEY_ENV, json.dumps(key))
        monkeypatch.setenv(OKTA_TOKEN_ENV, OKTA_TOKEN)
        users = json.loads((TENANT_DIR / "google" / "users.json").read_text(encoding="utf-8"))
        endpoints = {
            "graph": graph_server.url,
            "tenant": graph.tenant,
            "google": google_server.url,
            "okta": okta_server.url,
            "ca_path": graph_server.ca_path,
            "files": TENANT_DIR / "files",
            "admin": next(u["primaryEmail"] for u in users if u.get("isAdmin")),
        }
        path = write_config(folder, endpoints)
        text = path.read_text(encoding="utf-8")
        if "ca_bundle" not in text:  # any process (the CLI too) must trust the Graph CA
            text = text.replace(
                f'graph_url = "{graph_server.url}"',
                f'graph_url = "{graph_server.url}"\nca_bundle = "{graph_server.ca_path}"',
            )
        path.write_text(text + extra_config, encoding="utf-8")
        yield Providers(
            config_path=path,
            graph=graph,
            google=google,
            okta=okta,
            ca_path=str(graph_server.ca_path),
            secrets=[ENTRA_SECRET, OKTA_TOKEN, key["private_key_id"], *_key_lines(key)],
        )


def _key_lines(key: dict[str, str]) -> list[str]:
    """The base64 body lines of the service account's private key."""
    return [
        line
        for line in key["private_key"].splitlines()
        if line and not line.startswith("-----") and len(line) >= 40
    ]


def files_containing(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """Which files under ``folder`` contain any of ``needles`` (bytes search, any format)."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        for name, data in _contents(path):
            hits = [n for n in needles if n.encode() in data]
            if hits:
                found[name] = hits
    return found


def _contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """The file's bytes, and for a zip (XLSX) each member's bytes, which are compressed."""
    data = path.read_bytes()
    yield str(path), data
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path}!{member}", archive.read(member)


def test_helper_config_points_at_the_fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with local_providers(tmp_path, monkeypatch) as env:
        cfg = env.config()
        assert set(cfg.sources) == {"entra", "google", "okta", "files"}
        assert cfg.sources["entra"].ca_bundle == env.ca_path
        assert re.match(r"https://127\.0\.0\.1:\d+", cfg.sources["entra"].graph_url)
        assert len(env.secrets) > 5


def test_files_containing_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("nothing here")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00xx-planted-secret-xx\x00")
    with zipfile.ZipFile(tmp_path / "c.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", "<t>zipped-secret</t>" * 50)
    found = files_containing(tmp_path, ["planted-secret", "zipped-secret", "absent"])
    assert found == {
        str(tmp_path / "sub" / "b.bin"): ["planted-secret"],
        f"{tmp_path / 'c.xlsx'}!xl/sharedStrings.xml": ["zipped-secret"],
    }


# -- the in-memory "feed" source (tests/memory_source.py) ---------------------------------------
def feed_config(folder: Path, extra: str = "") -> Path:
    """A config scanning only the in-memory feed source into ``folder/shadowit.db``."""
    import tests.memory_source  # noqa: F401  (registers the "feed" connector)

    path = folder / "config.toml"
    path.write_text(
        '[organisation]\nname = "Test Co"\n[report]\nout = "reports"\n'
        'formats = ["html", "json", "csv", "xlsx"]\n[sources.feed]\n' + extra,
        encoding="utf-8",
    )
    return path


def feed_of(*app_names: str, skipped: str | None = None, error: Exception | None = None) -> None:
    """Make the feed source yield two users, these apps each granted to both, then maybe a
    Skipped stream or an exception."""
    from scanner.core.models import Checkpoint, Grant, RawApp, Skipped, User
    from tests.memory_source import FEED

    FEED.clear()
    FEED.extend(
        [
            User("feed", "u1", "ana@example.com", "Ana", "Marketing"),
            User("feed", "u2", "bo@example.com", "Bo", "Marketing"),
            Checkpoint("feed", "users", complete=True),
        ]
    )
    for number, name in enumerate(app_names):
        FEED.append(RawApp("feed", f"app{number}", name))
        for user in ("u1", "u2"):
            FEED.append(Grant("feed", f"app{number}", user, ("openid", "Mail.ReadWrite")))
    FEED.append(Checkpoint("feed", "apps"))
    if skipped:
        FEED.append(Skipped("feed", "signins", skipped, "AuditLog.Read.All"))
    if error is not None:
        FEED.append(error)
