"""SMTP delivery to a local aiosmtpd server on 127.0.0.1; the link in the mail opens the page."""

from __future__ import annotations

import email
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from werkzeug.test import Client

from reports.confirm import SendResult, send_lines, send_requests
from reports.confirm.mail import Delivered, DeliveryError, LinkItem, compose
from reports.confirm.server import ConfirmApp
from scanner.analysis import confirm
from scanner.app.config import Config
from scanner.store.database import Store
from tests.test_confirm_support import NOW, inventory, signing_key

PASSWORD = "smtp-pass-Zq81"
PASSWORD_ENV = "SHADOWIT_TEST_SMTP_PASSWORD"
LINK = re.compile(r"http://127\.0\.0\.1:8765(/c/[A-Za-z0-9._-]+)")


class Inbox:
    """aiosmtpd handler keeping what it receives."""

    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"shadowit",
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers 535 itself on failure.
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, str(ca_file)


@pytest.fixture
def smtp_server(tls: tuple[ssl.SSLContext, str]) -> Iterator[tuple[Controller, Inbox]]:
    """STARTTLS required, AUTH only after TLS."""
    inbox = Inbox(refuse="mops@acme.example")
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=tls[0],
        require_starttls=True,
        auth_require_tls=True,
        authenticator=_authenticator,
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def _smtp_config(
    config: Config, port: int, ca_file: str, password_env: str = PASSWORD_ENV, **extra: Any
) -> Config:
    settings = replace(
        config.confirm,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username="shadowit",
        smtp_password_env=password_env,
        smtp_ca_file=ca_file,
        from_addr="it@acme.example",
        **extra,
    )
    return replace(config, confirm=settings)


def _send(config: Config) -> Any:
    store = Store.open(config.store_path)
    try:
        return send_requests(store, config, NOW)
    finally:
        store.close()


@pytest.fixture
def starttls_config(
    tmp_path: Path,
    smtp_server: tuple[Controller, Inbox],
    tls: tuple[ssl.SSLContext, str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Config, Inbox]:
    """The Acme inventory configured for the STARTTLS server, the right password exported."""
    controller, inbox = smtp_server
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return _smtp_config(inventory(tmp_path), controller.port, tls[1]), inbox


def test_starttls_delivery_and_the_link_inside_works(
    starttls_config: tuple[Config, Inbox],
) -> None:
    config, inbox = starttls_config
    with signing_key():
        result = _send(config)
        lines = send_lines(result)
        assert "sent to ana@acme.example: 1 request" in lines
        assert any(line.startswith("NOT sent to mops@acme.example") for line in lines)
        assert result.files == []
        to_ana = next(m for m in inbox.messages if m["To"] == "ana@acme.example")
        assert to_ana["From"] == "it@acme.example"
        body = to_ana.get_body().get_content()  # type: ignore[union-attr]
        assert PASSWORD not in body
        path = LINK.search(body).group(1)  # type: ignore[union-attr]
        client = Client(ConfirmApp.from_config(config, clock=lambda: NOW))
        page = client.get(path)
    assert page.status_code == 200
    assert "Does your team own Jasper?" in page.get_data(as_text=True)
    assert {m["To"] for m in inbox.messages} == {
        "ana@acme.example",
        "eve@acme.example",
        "lead@acme.example",
    }
    store = Store.open(config.store_path)
    try:
        sent = {r.owner: r.last_sent for r in confirm.requests(store)}
    finally:
        store.close()
    # The refused recipient is not marked as sent, so the next run tries again.
    assert sent == {
        "ana@acme.example": NOW,
        "eve@acme.example": NOW,
        "lead@acme.example": NOW,
        "mops@acme.example": None,
    }


def test_implicit_tls(
    tmp_path: Path, tls: tuple[ssl.SSLContext, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "implicit-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        ssl_context=server_context,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        config = _smtp_config(
            inventory(tmp_path), controller.port, str(ca_file), smtp_ssl=True, smtp_starttls=False
        )
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with signing_key():
            result = _send(config)
    finally:
        controller.stop()
    assert len(inbox.messages) == 4
    assert not result.failed


def test_wrong_password_names_the_setting_not_the_password(
    starttls_config: tuple[Config, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, inbox = starttls_config
    monkeypatch.setenv(PASSWORD_ENV, "wrong-secret-77")
    with signing_key(), pytest.raises(DeliveryError) as err:
        _send(config)
    message = str(err.value)
    assert "confirm.smtp_username: 127.0.0.1:" in message
    assert (
        f"refused the login for shadowit (535); check the user and the password in {PASSWORD_ENV}"
        in message
    )
    assert "wrong-secret-77" not in message
    assert inbox.messages == []


def test_untrusted_certificate_is_refused(
    tmp_path: Path,
    smtp_server: tuple[Controller, Inbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, _inbox = smtp_server
    config = _smtp_config(inventory(tmp_path), controller.port, ca_file="")
    config = replace(config, confirm=replace(config.confirm, smtp_ca_file=None))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with (
        signing_key(),
        pytest.raises(DeliveryError, match="TLS with 127.0.0.1:.* failed .*smtp_ca_file"),
    ):
        _send(config)


def test_server_without_starttls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        config = _smtp_config(inventory(tmp_path), controller.port, ca_file="")
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with signing_key(), pytest.raises(DeliveryError, match="does not offer STARTTLS"):
            _send(config)
        # Without a password a loopback relay may be used in the clear.
        plain = replace(
            config,
            confirm=replace(
                config.confirm,
                smtp_host="127.0.0.1",
                smtp_port=controller.port,
                smtp_starttls=False,
                smtp_username=None,
                smtp_password_env=None,
                smtp_ca_file=None,
            ),
        )
        with signing_key():
            result = _send(plain)
    finally:
        controller.stop()
    assert not result.failed and len(inbox.messages) == 4


def test_password_never_sent_in_the_clear_to_a_remote_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _smtp_config(inventory(tmp_path), 25, ca_file="", smtp_starttls=False)
    config = replace(config, confirm=replace(config.confirm, smtp_host="mail.acme.example"))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with (
        signing_key(),
        pytest.raises(
            DeliveryError,
            match="refusing to send the SMTP password unencrypted to mail.acme.example:25",
        ),
    ):
        _send(config)


def test_connection_refused_names_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    config = _smtp_config(inventory(tmp_path), port, ca_file="")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with (
        signing_key(),
        pytest.raises(
            DeliveryError,
            match=f"confirm.smtp_host: cannot deliver through 127.0.0.1:{port}: .*nothing",
        ),
    ):
        _send(config)
    store = Store.open(config.store_path)
    try:
        assert {r.last_sent for r in confirm.requests(store)} == {None}
    finally:
        store.close()


def test_missing_password_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _smtp_config(inventory(tmp_path), 25, ca_file="", password_env="NO_SUCH_SMTP_PW")
    monkeypatch.delenv("NO_SUCH_SMTP_PW", raising=False)
    with (
        signing_key(),
        pytest.raises(
            Exception,
            match="confirm.smtp_password_env: environment variable NO_SUCH_SMTP_PW is not set",
        ),
    ):
        _send(config)


def _item(name: str, kind: str = "new", reminder: int = 0) -> LinkItem:
    return LinkItem(
        f"r-{name}", name, f"http://127.0.0.1:8765/c/{name}", NOW, "uses it most", kind, reminder
    )


def test_messages_say_words_and_count_in_plurals() -> None:
    one = compose("ana@acme.example", [_item("Canva")], "it@acme.example", "Acme", 2, NOW)
    two = compose(
        "ana@acme.example",
        [_item("Canva"), _item("Jasper", "reminder", 1)],
        "it@acme.example",
        "Acme",
        2,
        NOW,
    )
    assert str(one.message["Subject"]) == "Does your team own Canva? Please tell IT"
    assert str(two.message["Subject"]) == "Does your team own these 2 tools? Please tell IT"
    for out in (one, two):
        body = out.message.get_content()
        prose = " ".join(line for line in body.split("\n") if "/c/" not in line)
        assert not re.search(r"\b\w+_\w+\b", prose), re.findall(r"\b\w+_\w+\b", prose)
        assert '"Yes, my team owns it", "Not ours", "We stopped using it" or ' in body
        assert '"Please sanction it"' in body and 'choose "Not ours"' in body
    assert "the tool below. Please open the link" in one.message.get_content()
    assert "the tools below. Please open each link" in two.message.get_content()
    assert "(reminder 1 of 2)" in two.message.get_content()


def test_send_lines_count_in_plurals() -> None:
    result = SendResult(
        delivered=[
            Delivered("ana@acme.example", ("a",)),
            Delivered("ben@acme.example", ("b", "c")),
        ],
        closed=1,
        expired=2,
        by_smtp=True,
    )
    assert send_lines(result) == [
        "sent to ana@acme.example: 1 request",
        "sent to ben@acme.example: 2 requests",
        "2 unanswered requests expired; next owners asked next time",
        "1 request closed: no longer needed",
    ]
