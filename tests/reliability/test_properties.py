"""Property tests: whatever a config file or a provider sends, shadowit answers with records
or a typed, user-facing error, never another exception.

Provider items start from our payload fixtures (tests/payloads/<provider>/) and hypothesis
replaces or drops their fields with arbitrary JSON values, which finds the realistic breakage
(a string where an object was, a null, a number for a date) faster than random dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import entra
from connectors.google import parse as google
from connectors.okta import parse as okta
from scanner.app import config as configuration
from scanner.core.errors import ShadowitError
from scanner.core.models import User
from tests.reliability.conftest import Observe

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def payload(provider: str, name: str) -> list[dict[str, Any]]:
    return list(json.loads((PAYLOADS / provider / f"{name}.json").read_text(encoding="utf-8")))


def mutated(items: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """A fixture item with some fields replaced by arbitrary JSON or removed.

    Items that are not JSON objects never reach a parser: scanner.net.paging rejects a page
    holding one (see test_http_faults, "an item that is not an object").
    """

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        item = dict(draw(st.sampled_from(items)))
        keys = sorted(item)
        for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            if draw(st.booleans()):
                del item[key]
            else:
                item[key] = draw(json_values)
        return item

    return build()


def outcome(parse: Callable[[Any], Any], raw: Any) -> str:
    """Run a parser; records and typed errors are fine, anything else fails the test."""
    try:
        result = parse(raw)
    except ShadowitError as err:
        assert str(err), "a typed error carries a message"
        return "typed error"
    if hasattr(result, "__next__"):
        list(result)
    return "record"


PARSERS: dict[str, tuple[Callable[[Any], Any], str, str]] = {
    "entra.parse_user": (entra.parse_user, "entra", "users"),
    "entra.parse_app": (entra.parse_app, "entra", "servicePrincipals"),
    "entra.parse_signin": (entra.parse_signin, "entra", "signIns"),
    "entra.parse_sp_activity": (
        entra.parse_sp_activity,
        "entra",
        "servicePrincipalSignInActivities",
    ),
    "entra.parse_consent": (entra.parse_consent, "entra", "directoryAudits"),
    "google._parse_user": (
        lambda raw: google._shape(google._parse_user, "users.list", raw),
        "google",
        "users",
    ),
    "google._parse_token": (
        lambda raw: google._shape(
            lambda r: google._parse_token(r, User("google", "1", "a@example.com")), "tokens", raw
        ),
        "google",
        "tokens",
    ),
    "google._parse_activity": (
        lambda raw: google._shape(lambda r: list(google._parse_activity(r)), "activities", raw),
        "google",
        "activities-token",
    ),
    "okta.parse_app": (lambda raw: okta._parsed(okta.parse_app, raw, what="app"), "okta", "apps"),
    "okta.parse_app_user": (
        lambda raw: okta._parsed(okta.parse_app_user, "0oa1", raw, what="app user"),
        "okta",
        "app_users",
    ),
    "okta.parse_user": (
        lambda raw: okta._parsed(okta.parse_user, raw, what="user"),
        "okta",
        "users",
    ),
    "okta._parse_event": (
        lambda raw: okta._parsed(okta._parse_event, raw, what="event"),
        "okta",
        "logs",
    ),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_connector_parser_yields_records_or_a_typed_error(name: str, observe: Observe) -> None:
    parse, provider, fixture = PARSERS[name]
    seen: set[str] = set()

    @EXAMPLES
    @given(raw=mutated(payload(provider, fixture)))
    def check(raw: Any) -> None:
        seen.add(outcome(parse, raw))

    check()
    assert seen, "hypothesis ran no example"
    observe(
        "property",
        f"{name} on {provider} {fixture} items with fields dropped or replaced by any JSON",
        f"150 examples: only {' and '.join(sorted(seen))}s, never another exception",
    )


# -- configuration ---------------------------------------------------------------------------

SECTIONS = ["store", "organisation", "policy", "catalog", "report", "notify", "sources", "x"]
KEYS = [
    "path",
    "name",
    "out",
    "formats",
    "dormant_days",
    "severity",
    "enabled",
    "okta",
    "entra",
    "google",
    "files",
    "imports",
    "token_env",
    "org_url",
    "marketing_share",
    "aliases",
]
toml_values = st.recursive(
    st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
tomlish = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.dictionaries(st.sampled_from(KEYS), toml_values, max_size=4) | toml_values,
    max_size=4,
)


def test_config_from_dict_gives_a_config_or_a_config_error(observe: Observe) -> None:
    seen: set[str] = set()

    @EXAMPLES
    @given(data=tomlish)
    def check(data: dict[str, Any]) -> None:
        try:
            configuration.from_dict(data, Path("config.toml"))
            seen.add("Config")
        except ShadowitError as err:
            assert "config.toml" in str(err) or "sources." in str(err), str(err)
            seen.add(type(err).__name__)

    check()
    observe(
        "property",
        "scanner.app.config.from_dict on arbitrary TOML-shaped tables",
        f"only {', '.join(sorted(seen))}; every error names the key path or the file",
    )


def test_config_load_on_arbitrary_bytes(tmp_path: Path, observe: Observe) -> None:
    seen: set[str] = set()
    path = tmp_path / "config.toml"

    @EXAMPLES
    @given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            configuration.load(path)
            seen.add("Config")
        except ShadowitError as err:
            assert str(path) in str(err)
            seen.add(type(err).__name__)

    check()
    path.write_bytes(b'[organisation]\nname = "Caf\xe9"\n')
    with pytest.raises(ShadowitError) as err:
        configuration.load(path)
    assert "not UTF-8" in str(err.value) or "utf-8" in str(err.value).lower()
    observe(
        "property",
        "scanner.app.config.load on arbitrary bytes, including invalid UTF-8",
        f"only {', '.join(sorted(seen))}; invalid UTF-8 reads as: {err.value}",
    )
