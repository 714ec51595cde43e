"""Refuse before work: what ``shadowit scan`` and ``shadowit doctor`` check before any source is
read, through the CLI, each problem one line naming the setting with exit 2.

A config with no enabled source, out-of-range numbers, addresses that are not addresses,
unreadable files named by settings (relative ones taken from the config file's folder), an
unwritable store or report folder and a ``[confirm]`` without its key; the doctor's SMTP probe
against a loopback server and a closed port; and the README's exit-code table.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

import scanner.core.errors as errors
from scanner.app import config as configuration
from scanner.app.cli import EXIT_CODES_HELP, main
from tests.config_text import files_source

ROOT = Path(__file__).resolve().parents[1]
EXPENSES = ROOT / "tests" / "data" / "imports" / "expenses-card-2026-10.csv"
FILES_SOURCE = files_source()
ENTRA = """\
[sources.entra]
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret_env = "SHADOWIT_TEST_PREFLIGHT_UNSET"
"""
KEY_ENV = "SHADOWIT_TEST_PREFLIGHT_KEY"
KEY = "k" * 40
FILE_FIX = (
    "fix the path (a relative one is taken from the config file's folder, {folder}) or the "
    "file's owner"
)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def one_error(output: str) -> str:
    """The single line of an expected failure, checked to be all there is."""
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: "), output
    return lines[0].removeprefix("Error: ")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder with an expenses export; the working directory is somewhere else."""
    folder = tmp_path / "etc"
    folder.mkdir()
    shutil.copy(EXPENSES, folder / "expenses.csv")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("SHADOWIT_TEST_PREFLIGHT_UNSET", raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    return folder


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scans(folder: Path) -> list[tuple[int, str]]:
    db = folder / "shadowit.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT id, status FROM scan_runs ORDER BY id"))


# -- no enabled source ---------------------------------------------------------------------
NO_SOURCE = (
    "sources: no [sources.<name>] table, nothing to scan (is the file cut short?); add one "
    "(see config.example.toml), or pass --allow-empty to re-analyse the stored inventory "
    "without reading any source ({config})"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            "the config file is empty, nothing to scan; copy config.example.toml and fill in a "
            "[sources.<name>] table ({config})",
        ),
        ("# shadowit\n\n", None),
        ('[organisation]\nname = "Acme"\n[store]\npath = "shadowit.db"\n', NO_SOURCE),
        (
            FILES_SOURCE.replace("[sources.files]\n", "[sources.files]\nenabled = false\n"),
            "sources: every configured source says enabled = false; enable one, or pass "
            "--allow-empty to re-analyse the stored inventory without reading any source "
            "({config})",
        ),
    ],
    ids=["empty", "only-comments", "cut-before-sources", "all-disabled"],
)
def test_a_config_with_no_enabled_source_is_refused(
    home: Path, text: str, message: str | None
) -> None:
    config = write(home, text)
    code, output = cli("scan", "--config", str(config))
    expected = message or (
        "the config file is empty, nothing to scan; copy config.example.toml and fill in a "
        "[sources.<name>] table ({config})"
    )
    assert (code, one_error(output)) == (2, expected.format(config=config))
    assert not (home / "shadowit.db").exists(), "nothing may be scanned or stored"
    assert not (home / "reports").exists()


def test_allow_empty_re_analyses_the_stored_inventory(home: Path) -> None:
    config = write(home, FILES_SOURCE)
    code, output = cli("scan", "--config", str(config))
    assert code == 0, output
    write(home, FILES_SOURCE.replace("[sources.files]\n", "[sources.files]\nenabled = false\n"))
    assert cli("scan", "--config", str(config))[0] == 2
    assert scans(home) == [(1, "finished")], "the refused scan left no run behind"
    code, output = cli("scan", "--config", str(config), "--allow-empty")
    assert code == 0, output
    assert scans(home) == [(1, "finished"), (2, "finished")]


# -- paths: every setting against the config file's folder ---------------------------------
@pytest.mark.parametrize(
    ("table", "key"),
    [
        (ENTRA + 'ca_bundle = "certs/proxy.pem"\n', ("sources", "entra", "ca_bundle")),
        (ENTRA + 'private_key_file = "keys/k.pem"\n', ("sources", "entra", "private_key_file")),
        (
            '[sources.google]\nadmin_email = "admin@acme.example"\nkey_file = "keys/sa.json"\n'
            'ca_bundle = "certs/proxy.pem"\n',
            ("sources", "google", "ca_bundle"),
        ),
        (
            '[sources.google]\nadmin_email = "admin@acme.example"\nkey_file = "keys/sa.json"\n',
            ("sources", "google", "key_file"),
        ),
        (
            '[sources.okta]\norg_url = "https://acme.okta.com"\ntoken_file = "keys/okta"\n'
            'ca_bundle = "certs/proxy.pem"\n',
            ("sources", "okta", "ca_bundle"),
        ),
        ('[store]\npath = "data/shadowit.db"\n', ("store", "path")),
        ('[report]\nout = "data/reports"\n', ("report", "out")),
        ('[catalog]\nfile = "lists/our-apps.csv"\n', ("catalog", "file")),
        (f'[confirm]\nsecret_env = "{KEY_ENV}"\nsmtp_ca_file = "certs/ca.pem"\n', None),
    ],
)
def test_relative_paths_are_taken_from_the_config_files_folder(
    home: Path, table: str, key: tuple[str, ...] | None
) -> None:
    config = configuration.load(write(home, table))
    if key is None:
        assert config.confirm.smtp_ca_file == str(home / "certs" / "ca.pem")
        return
    settings: Any = config.sources[key[1]] if key[0] == "sources" else getattr(config, key[0])
    value = getattr(settings, key[-1])
    assert Path(value).is_absolute() and Path(value).parent.parent == home, value


def test_a_missing_relative_ca_bundle_stops_the_scan_before_any_source(home: Path) -> None:
    config = write(home, ENTRA + 'ca_bundle = "certs/proxy.pem"\n' + FILES_SOURCE)
    code, output = cli("scan", "--config", str(config))
    bundle = home / "certs" / "proxy.pem"
    assert (code, one_error(output)) == (
        2,
        f"sources.entra.ca_bundle: cannot read {bundle}: no such file; "
        + FILE_FIX.format(folder=home)
        + f" ({config})",
    )
    assert not (home / "shadowit.db").exists()


def test_a_ca_bundle_under_a_regular_file_is_named(home: Path) -> None:
    (home / "certs").write_text("not a folder")
    config = write(home, ENTRA + 'ca_bundle = "certs/proxy.pem"\n')
    code, output = cli("scan", "--config", str(config))
    assert (code, one_error(output)) == (
        2,
        f"sources.entra.ca_bundle: cannot read {home / 'certs' / 'proxy.pem'}: "
        f"{home / 'certs'} is a file, not a folder; "
        + FILE_FIX.format(folder=home)
        + f" ({config})",
    )


def test_an_empty_path_setting_is_refused(home: Path) -> None:
    config = write(home, ENTRA + 'ca_bundle = ""\n')
    code, output = cli("scan", "--config", str(config))
    assert (code, one_error(output)) == (
        2,
        f"sources.entra.ca_bundle: the path is empty; name a file or remove the line ({config})",
    )


# -- numbers and addresses -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[policy]\ndormant_days = -5\n", "policy.dormant_days: -5 is out of range (1 to 36500)"),
        ("[policy]\nreview_period_days = 0\n", "policy.review_period_days: 0 is out of range"),
        ("[store]\nsignin_retention_days = -1\n", "store.signin_retention_days: -1 is out of"),
        (
            "[organisation]\nmarketing_share = 1.5\n",
            "organisation.marketing_share: 1.5 is out of range (0 to 1)",
        ),
        ("[confirm]\nport = 70000\n", "confirm.port: 70000 is out of range (1 to 65535)"),
        ("[confirm]\nsmtp_timeout = 0\n", "confirm.smtp_timeout: 0 is out of range (more than"),
        ("[confirm]\nmax_reminders = -1\n", "confirm.max_reminders: must be 0 or more, not -1"),
        (
            ENTRA + "signin_lookback_days = 45\n",
            "sources.entra.signin_lookback_days: 45 is out of range (1 to 30): Entra keeps "
            "sign-ins for 30 days (P1/P2), 7 without a licence",
        ),
        (ENTRA + "timeout = -1\n", "sources.entra.timeout: -1 is out of range (more than 0"),
        (ENTRA + "concurrency = 0\n", "sources.entra.concurrency: 0 is out of range (1 to 64)"),
        (
            '[sources.okta]\norg_url = "https://acme.okta.com"\nlookback_days = 120\n',
            "sources.okta.lookback_days: 120 is out of range (1 to 90): the System Log keeps "
            "90 days",
        ),
        (
            '[sources.google]\nadmin_email = "a@acme.example"\nkey_env = "K"\nbatch_size = 0\n',
            "sources.google.batch_size: 0 is out of range (1 to 1000)",
        ),
        (
            FILES_SOURCE.replace("[sources.files]\n", "[sources.files]\nmax_cell = 0\n"),
            "sources.files.max_cell: expected at least 1",
        ),
    ],
)
def test_out_of_range_numbers_are_refused_naming_the_key(
    home: Path, table: str, message: str
) -> None:
    config = write(home, table)
    code, output = cli("scan", "--config", str(config))
    line = one_error(output)
    assert code == 2
    assert line.startswith(message), line
    assert line.endswith(f" ({config})"), line
    assert not (home / "shadowit.db").exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[sources.google]\nadmin_email = "it-admin"\nkey_env = "K"\n',
            "sources.google.admin_email: 'it-admin' is not an email address (",
        ),
        (
            '[confirm]\nfallback_owner = "marketing ops"\n',
            "confirm.fallback_owner: 'marketing ops' is not an email address (",
        ),
        (
            FILES_SOURCE + '[[sanctioned.apps]]\napp = "Canva"\nstatus = "tolerated"\n'
            'owner = "Dana from marketing"\n',
            "sanctioned.apps[0]: owner 'Dana from marketing' for Canva is not an email address",
        ),
    ],
)
def test_owner_addresses_are_validated_naming_the_key(home: Path, table: str, message: str) -> None:
    config = write(home, table)
    code, output = cli("scan", "--config", str(config))
    line = one_error(output)
    assert code == 2
    assert line.startswith(message), line
    assert not (home / "shadowit.db").exists()


# -- the store, the reports and [confirm] --------------------------------------------------
def test_a_store_under_a_regular_file_is_refused_before_any_source(home: Path) -> None:
    (home / "data").write_text("a file where a folder should be")
    config = write(home, '[store]\npath = "data/shadowit.db"\n' + FILES_SOURCE)
    code, output = cli("scan", "--config", str(config))
    assert (code, one_error(output)) == (
        2,
        f"store.path: cannot write the inventory {home / 'data' / 'shadowit.db'}: "
        f"{home / 'data'} is a file, not a folder; set [store] path to a file in a folder this "
        "user can write (the inventory keeps its lock, -wal and -shm files beside it) "
        f"({config})",
    )


def test_a_report_folder_under_a_regular_file_is_refused_before_any_source(home: Path) -> None:
    (home / "out").write_text("a file")
    config = write(home, '[report]\nout = "out/reports"\n' + FILES_SOURCE)
    code, output = cli("scan", "--config", str(config))
    assert (code, one_error(output)) == (
        2,
        f"report.out: cannot write the reports to {home / 'out' / 'reports'}: {home / 'out'} "
        f"is a file, not a folder; set [report] out (or --out) to a folder this user can write "
        f"({config})",
    )
    assert not (home / "shadowit.db").exists()
    assert cli("scan", "--config", str(config), "--no-report")[0] == 0, "no report, no check"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            None,
            f"confirm.secret_env: environment variable {KEY_ENV} is not set; export it before "
            "the scan; or remove [confirm] if this installation does not ask owners ({config})",
        ),
        (
            "short",
            f"confirm.secret_env: the key in environment variable {KEY_ENV} is shorter than 32 "
            "characters; generate one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`; or remove [confirm] if this installation does "
            "not ask owners ({config})",
        ),
    ],
)
def test_confirm_without_a_usable_signing_key_stops_the_scan(
    home: Path, monkeypatch: pytest.MonkeyPatch, key: str | None, message: str
) -> None:
    if key is not None:
        monkeypatch.setenv(KEY_ENV, key)
    config = write(home, FILES_SOURCE + f'[confirm]\nsecret_env = "{KEY_ENV}"\n')
    code, output = cli("scan", "--config", str(config))
    assert (code, one_error(output)) == (2, message.format(config=config))
    assert not (home / "shadowit.db").exists()
    monkeypatch.setenv(KEY_ENV, KEY)
    assert cli("scan", "--config", str(config))[0] == 0


# -- doctor --------------------------------------------------------------------------------
def doctor_rows(config: Path) -> tuple[int, dict[tuple[str, str], dict[str, Any]]]:
    result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--json"])
    assert "Traceback" not in result.output
    rows = json.loads(result.output)
    return result.exit_code, {(r["source"], r["check"]): r for r in rows}


def test_doctor_names_an_unwritable_store_and_report_folder(home: Path) -> None:
    (home / "data").write_text("a file")
    config = write(
        home, '[store]\npath = "data/s.db"\n[report]\nout = "data/reports"\n' + FILES_SOURCE
    )
    code, rows = doctor_rows(config)
    assert code == 2
    store, report = rows[("store", "inventory")], rows[("report", "out")]
    assert (store["ok"], store["detail"]) == (
        False,
        f"{home / 'data' / 's.db'}: cannot write the inventory: {home / 'data'} is a file, "
        "not a folder",
    )
    assert (report["ok"], report["detail"], report["fix"]) == (
        False,
        f"report.out: cannot write the reports to {home / 'data' / 'reports'}: "
        f"{home / 'data'} is a file, not a folder",
        "set [report] out (or --out) to a folder this user can write",
    )
    assert not (home / "reports").exists(), "doctor writes nothing"


def test_doctor_checks_files_named_by_settings(home: Path) -> None:
    config = write(home, FILES_SOURCE + '[catalog]\nscopes_file = "scopes.csv"\n')
    code, rows = doctor_rows(config)
    row = rows[("config", "catalog.scopes_file")]
    assert code == 2
    assert (row["ok"], row["detail"]) == (
        False,
        f"catalog.scopes_file: cannot read {home / 'scopes.csv'}: no such file",
    )


def test_doctor_with_a_missing_ca_bundle_names_it_instead_of_probing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CA bundle row says what to fix; the source's probes, which would all fail on the
    missing bundle (an OSError inside requests), are not run."""
    monkeypatch.setenv("SHADOWIT_TEST_PREFLIGHT_UNSET", "a-secret")
    config = write(
        home,
        ENTRA + 'ca_bundle = "certs/proxy.pem"\nauthority_host = "https://127.0.0.1:9"\n'
        'graph_url = "https://127.0.0.1:9"\n',
    )
    code, rows = doctor_rows(config)
    assert code == 2
    assert rows[("config", "sources.entra.ca_bundle")] == {
        "source": "config",
        "check": "sources.entra.ca_bundle",
        "ok": False,
        "detail": f"sources.entra.ca_bundle: cannot read {home / 'certs' / 'proxy.pem'}: no such "
        "file",
        "fix": FILE_FIX.format(folder=home),
    }
    assert not [key for key in rows if key[0] == "entra"]


def test_doctor_checks_the_confirm_signing_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(home, FILES_SOURCE)
    code, rows = doctor_rows(config)
    assert code == 0 and not [k for k in rows if k[0] == "confirm"], "no [confirm], no rows"
    write(home, FILES_SOURCE + f'[confirm]\nsecret_env = "{KEY_ENV}"\n')
    code, rows = doctor_rows(config)
    key = rows[("confirm", "signing key")]
    assert code == 2
    assert (key["ok"], key["detail"]) == (
        False,
        f"confirm.secret_env: environment variable {KEY_ENV} is not set; export it before the scan",
    )
    monkeypatch.setenv(KEY_ENV, KEY)
    code, rows = doctor_rows(config)
    assert code == 0, rows
    assert rows[("confirm", "signing key")]["ok"]
    assert rows[("confirm", "out")]["detail"] == f"{home / 'confirm-requests'}: writable"


class _Quiet:
    """An aiosmtpd handler that accepts nothing is needed: doctor never sends."""


@pytest.fixture
def smtp_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(_Quiet(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_doctor_reaches_the_smtp_server(
    home: Path, monkeypatch: pytest.MonkeyPatch, smtp_port: int
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    smtp = 'smtp_host = "127.0.0.1"\nsmtp_starttls = false\nsmtp_timeout = 5\n'
    config = write(
        home, FILES_SOURCE + f'[confirm]\nsecret_env = "{KEY_ENV}"\n{smtp}smtp_port = {smtp_port}\n'
    )
    code, rows = doctor_rows(config)
    assert code == 0, rows
    assert rows[("confirm", "smtp")] == {
        "source": "confirm",
        "check": "smtp",
        "ok": True,
        "detail": "127.0.0.1 answers",
        "fix": None,
    }
    closed = _closed_port()
    write(home, FILES_SOURCE + f'[confirm]\nsecret_env = "{KEY_ENV}"\n{smtp}smtp_port = {closed}\n')
    code, rows = doctor_rows(config)
    assert code == 2
    assert rows[("confirm", "smtp")] == {
        "source": "confirm",
        "check": "smtp",
        "ok": False,
        "detail": f"confirm.smtp_host: cannot reach 127.0.0.1:{closed} (Connection refused)",
        "fix": "check smtp_host, smtp_port and the firewall",
    }


# -- exit codes and their documentation ----------------------------------------------------
def _readme_exit_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    return {
        int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d) \| (.+) \|$", section, re.M)
    }


def test_the_readme_lists_every_exit_code() -> None:
    table = _readme_exit_codes()
    assert sorted(table) == [0, 1, 2, 3, 4]
    raised = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ShadowitError)
    }
    assert raised <= set(table)
    assert "another scan holds the lock" in table[errors.LockedError.exit_code]
    for code in table:
        assert f"{code} " in EXIT_CODES_HELP
    assert "another scan holds the lock" in EXIT_CODES_HELP
