"""Config validation: every error names the key path and the file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.google.settings import GoogleSettings
from scanner.app import config
from scanner.core.errors import ConfigError
from scanner.core.settings import build, check_ranges, path_settings, secret


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[organisation]\nname = "Acme"\n'))
    assert cfg.organisation.name == "Acme"
    assert cfg.store_path == tmp_path / "shadowit.db"
    assert cfg.policy.dormant_days == 90
    assert cfg.sources == {}


def test_example_config_loads() -> None:
    cfg = config.load(Path(__file__).parent.parent / "config.example.toml")
    assert set(cfg.sources) >= {"entra"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store]\npaht = 'x.db'\n", "store.paht: unknown setting"),
        ("[policy]\ndormant_days = 'ninety'\n", "policy.dormant_days: expected a whole number"),
        ("[organisation]\nmarketing_departments = 'Marketing'\n", "expected a list"),
        ("[nonsense]\n", "nonsense: unknown section"),
        ("[sources.salesforce]\n", "sources.salesforce: unknown source"),
        ("[report]\nredact_users = 1\n", "report.redact_users: expected true or false"),
        ("store = 3\n", "store: expected a table"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


@dataclass(frozen=True)
class Example:
    tenant: str
    count: int = 1


def test_required_setting_missing() -> None:
    with pytest.raises(ConfigError, match=r"sources.x.tenant: required setting is missing"):
        build(Example, {}, "sources.x", None)


def test_secret_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHADOWIT_TEST_SECRET", "s3cr3t\n")
    assert secret("SHADOWIT_TEST_SECRET", None, "sources.x.secret", None) == "s3cr3t"
    (tmp_path / "secret.txt").write_text("from-file\n")
    assert secret(None, "secret.txt", "k", tmp_path / "config.toml") == "from-file"


def test_secret_env_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHADOWIT_UNSET", raising=False)
    with pytest.raises(ConfigError) as err:
        secret("SHADOWIT_UNSET", None, "sources.okta.token", Path("config.toml"))
    assert str(err.value) == (
        "sources.okta.token_env: environment variable SHADOWIT_UNSET is not set; "
        "export it before the scan (config.toml)"
    )


def test_secret_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sources.x.key_file: cannot read"):
        secret(None, "missing.pem", "sources.x.key", tmp_path / "c.toml")


def test_secret_required() -> None:
    with pytest.raises(ConfigError, match="set k_env"):
        secret(None, None, "k", None)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"expiry_dayz": 3}, "confirm.expiry_dayz: unknown setting"),
        ({"expiry_days": 0}, "confirm.expiry_days: must be 1 or more"),
        ({"from_addr": "it@acme.example\n"}, "confirm.from_addr: "),
        ({"link_base_url": "ftp://x"}, "confirm.link_base_url: 'ftp://x' is not an http(s) URL"),
    ],
)
def test_confirm_table_is_checked_when_the_config_loads(
    table: dict[str, object], says: str
) -> None:
    """A [confirm] mistake stops `scan` at load time, before any provider is called."""
    with pytest.raises(ConfigError, match=re.escape(says)):
        config.from_dict({"confirm": table}, Path("config.toml"))


def test_confirm_settings_are_typed_on_the_config() -> None:
    loaded = config.from_dict({"confirm": {"expiry_days": 5}}, Path("config.toml"))
    assert isinstance(loaded.confirm, config.ConfirmSettings)
    assert loaded.confirm.expiry_days == 5
    assert config.from_dict({}).confirm == config.ConfirmSettings()


def test_ranges_are_the_same_loaded_or_built_in_code(tmp_path: Path) -> None:
    """One range per setting: ``build`` refuses it on load, ``check_ranges`` in code."""
    path = write(
        tmp_path,
        '[sources.google]\nadmin_email = "a@acme.example"\nkey_env = "K"\nconcurrency = 0\n',
    )
    with pytest.raises(ConfigError) as loaded:
        config.load(path)
    with pytest.raises(ConfigError) as built:
        check_ranges(
            GoogleSettings(admin_email="a@acme.example", key_env="K", concurrency=0),
            "sources.google",
            path,
        )
    expected = f"sources.google.concurrency: 0 is out of range (1 to 64) ({path})"
    assert str(loaded.value) == str(built.value) == expected


def test_path_settings_are_resolved_once_and_listed(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            '[sources.okta]\norg_url = "https://acme.okta.com"\ntoken_file = "okta.token"\n'
            'ca_bundle = "/etc/ssl/proxy.pem"\n',
        )
    )
    okta = cfg.sources["okta"]
    assert [(key, str(p), m.reads) for key, p, m in path_settings(okta, "sources.okta")] == [
        ("sources.okta.token_file", str(tmp_path / "okta.token"), True),
        ("sources.okta.ca_bundle", "/etc/ssl/proxy.pem", True),
    ]
    # A resolved path stays what it is when a connector resolves it again.
    context = ConnectorContext(config_path=tmp_path / "config.toml")
    assert context.resolve_path(okta.token_file) == tmp_path / "okta.token"
    assert cfg.path(cfg.report.out) == tmp_path / "reports"


def test_a_relative_config_path_resolves_each_path_setting_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--config site/config.toml`` from the folder above: the store and the report folder
    are the config folder's, not ``site/site/...``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.toml").write_text(
        '[store]\npath = "shadowit.db"\n[report]\nout = "."\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    from scanner.app import config as configuration

    cfg = configuration.load(Path("site/config.toml"))
    assert cfg.store_path.resolve() == site / "shadowit.db"
    assert cfg.path(cfg.report.out).resolve() == site
