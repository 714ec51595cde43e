"""Deliver confirmation requests: SMTP, or message files plus a mail-merge CSV.

One message per person, with one link per app they are asked about. SMTP uses ``smtplib``:
STARTTLS (RFC 3207) on port 587 by default, or implicit TLS (RFC 8314) on 465 with
``confirm.smtp_ssl``; the password comes from ``confirm.smtp_password_env`` and is never put in
a message, a log line or an error. Without ``confirm.smtp_host``, ``write_files`` writes one
``.eml`` per person and ``requests.csv`` (one row per link) for a mail-merge; they hold live
links, so they are created readable by their owner only.

smtplib: https://docs.python.org/3/library/smtplib.html (``starttls``, ``SMTP_SSL``,
``send_message``); email: https://docs.python.org/3/library/email.message.html
"""

from __future__ import annotations

import csv
import io
import ipaddress
import logging
import os
import re
import shutil
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from scanner.core.config import ConfirmSettings
from scanner.core.errors import ShadowitError
from scanner.core.names import email_problem, is_email, one_line, visible
from scanner.core.paths import os_reason
from scanner.core.words import ANSWERS, label, plural

log = logging.getLogger(__name__)

STARTTLS_PORT = 587
"""RFC 6409 message submission port, upgraded with STARTTLS."""
SSL_PORT = 465
"""RFC 8314 submission over implicit TLS."""
PLAIN_PORT = 25
_ANSWER_WORDS = ", ".join(f'"{words}"' for words in list(ANSWERS.values())[:-1]) + (
    f' or "{list(ANSWERS.values())[-1]}"'
)
"""The four answers as the page's buttons say them."""


class DeliveryError(ShadowitError):
    """Requests could not be delivered; the message names the setting to check."""


@dataclass(frozen=True)
class LinkItem:
    """One app a person is asked about, with its link."""

    request_id: str
    app_name: str
    url: str
    expires: datetime
    reason: str
    kind: str
    """new, rerouted or reminder."""
    reminder: int = 0
    notes: tuple[str, ...] = ()
    """Lines about the app from the policy: its renewal, the approved alternative."""


@dataclass(frozen=True)
class Outgoing:
    """One message to one person."""

    owner: str
    items: tuple[LinkItem, ...]
    message: EmailMessage


@dataclass(frozen=True)
class Delivered:
    owner: str
    request_ids: tuple[str, ...]
    error: str | None = None
    """Why this person's message was refused (the others still went)."""


def compose(
    owner: str,
    items: Sequence[LinkItem],
    from_addr: str,
    organisation: str,
    max_reminders: int,
    now: datetime,
) -> Outgoing:
    """The message asking ``owner`` about ``items``.

    Both addresses go into headers as they are, so both must be plain addresses: a value with
    a line break (``alice@example.com\\n``, ``bob@example.com\\r\\nBcc: ...``) is refused
    here even though the plan never picks one."""
    for role, address in (("owner", owner), ("confirm.from_addr", from_addr)):
        if not is_email(address):
            raise DeliveryError(
                f"{role}: {one_line(repr(address), 200)} is not an email address "
                f"({email_problem(address)}); no message is made for it"
            )
    names = [plain_line(i.app_name) for i in items]
    reminding = all(i.kind == "reminder" for i in items)
    prefix = "Reminder: " if reminding else ""
    if len(items) == 1:
        subject = f"{prefix}Does your team own {names[0]}? Please tell IT"
    else:
        subject = f"{prefix}Does your team own these {plural(len(items), 'tool')}? Please tell IT"
    lines = [
        "Hello,",
        "",
        f"{organisation} IT keeps a list of the online tools our teams use, so that the "
        "data in them stays safe and nobody pays twice. Our records suggest you know the "
        f"tool{'s' if len(items) > 1 else ''} below. Please open "
        f"{'each' if len(items) > 1 else 'the'} link and choose one answer: {_ANSWER_WORDS}. "
        "It takes under a minute and needs no account.",
        "",
    ]
    for item in items:
        lines += [
            f"  {plain_line(item.app_name)}",
            f"  {item.url}",
            f"  (asked because: {plain_line(item.reason)}; the link works once, until "
            f"{item.expires.strftime('%d %B %Y')})",
        ]
        if item.kind == "reminder":
            lines.append(f"  (reminder {item.reminder} of {max_reminders})")
        lines.extend(f"  {plain_line(note, 200)}" for note in item.notes)
        lines.append("")
    lines += [
        f'If a tool is not your team\'s, choose "{label("answer", "not_ours")}" and suggest who',
        "owns it: we will ask them instead.",
        "",
        "Thank you,",
        f"{organisation} IT",
    ]
    message = EmailMessage()
    message["From"] = from_addr
    message["To"] = owner
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=from_addr.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    body = "\n".join(lines) + "\n"
    # 7bit keeps the links readable in .eml files; quoted-printable only when needed.
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return Outgoing(owner, tuple(items), message)


def plain_line(value: str, limit: int = 120) -> str:
    """Provider-supplied text (an app name) as one short line of inert plain text.

    A line break would forge lines of the message (or break its Subject), control, bidi and
    zero-width characters would disguise a name, and ``scheme://`` would turn a name into a
    clickable link in a message that comes from IT; so breaks become spaces, those characters
    show as ``⟨U+202E⟩`` (``scanner.core.names.visible``), ``://`` gets fraction slashes, and long
    names are cut.
    """
    text = " ".join(visible(value).split()).replace("://", ":\u2044\u2044")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# -- SMTP ---------------------------------------------------------------------------------
def send_smtp(
    outgoing: Sequence[Outgoing], s: ConfirmSettings, password: str | None
) -> list[Delivered]:
    """Send every message over one SMTP session; a refused recipient does not stop the rest."""
    assert s.smtp_host is not None
    port = s.smtp_port or (
        SSL_PORT if s.smtp_ssl else STARTTLS_PORT if s.smtp_starttls else PLAIN_PORT
    )
    where = f"{s.smtp_host}:{port}"
    encrypted = s.smtp_ssl or s.smtp_starttls
    if password is not None and not encrypted and not _loopback(s.smtp_host):
        raise DeliveryError(
            f"confirm.smtp_starttls: refusing to send the SMTP password unencrypted to {where}; "
            "set smtp_starttls = true or smtp_ssl = true"
        )
    context = _tls_context(s)
    results: list[Delivered] = []
    try:
        client = _connect(s, port, context)
        try:
            if s.smtp_starttls and not s.smtp_ssl:
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise DeliveryError(
                        f"confirm.smtp_starttls: {where} does not offer STARTTLS; use its "
                        "submission port, or smtp_ssl = true with port 465"
                    )
                client.starttls(context=context)
                client.ehlo()
            if s.smtp_username and password is not None:
                client.login(s.smtp_username, password)
            for out in outgoing:
                results.append(_send_one(client, out))
        finally:
            _quit(client)
    except smtplib.SMTPAuthenticationError as err:
        raise DeliveryError(
            f"confirm.smtp_username: {where} refused the login for {s.smtp_username} "
            f"({err.smtp_code}); check the user and the password in "
            f"{s.smtp_password_env or s.smtp_password_file}"
        ) from None
    except ssl.SSLError as err:
        raise DeliveryError(
            f"confirm.smtp_host: TLS with {where} failed ({err.reason or err}); "
            "set confirm.smtp_ca_file if the server uses a private CA"
        ) from None
    except (smtplib.SMTPException, OSError) as err:
        raise DeliveryError(
            f"confirm.smtp_host: cannot deliver through {where}: {_describe(err)}; "
            "nothing was marked as sent"
        ) from None
    return results


def _connect(s: ConfirmSettings, port: int, context: ssl.SSLContext) -> smtplib.SMTP:
    assert s.smtp_host is not None
    if s.smtp_ssl:
        return smtplib.SMTP_SSL(s.smtp_host, port, timeout=s.smtp_timeout, context=context)
    return smtplib.SMTP(s.smtp_host, port, timeout=s.smtp_timeout)


def _send_one(client: smtplib.SMTP, out: Outgoing) -> Delivered:
    ids = tuple(i.request_id for i in out.items)
    try:
        refused = client.send_message(out.message)
    except smtplib.SMTPRecipientsRefused as err:
        reason = "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in err.recipients.values()
        )
        log.warning("the mail server refused %s: %s", out.owner, one_line(reason))
        return Delivered(out.owner, ids, f"refused: {reason}")
    if refused:
        return Delivered(out.owner, ids, f"refused: {refused}")
    return Delivered(out.owner, ids)


def _tls_context(s: ConfirmSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=s.smtp_ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        text = (
            err.smtp_error.decode(errors="replace")
            if isinstance(err.smtp_error, bytes)
            else str(err.smtp_error)
        )
        return f"{err.smtp_code} {text}"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


# -- files --------------------------------------------------------------------------------
CSV_COLUMNS = ("to", "subject", "app", "kind", "link", "link_expires", "reason", "message_file")
STAGING_LABEL = "mail-"


def write_files(outgoing: Sequence[Outgoing], folder: Path) -> list[Path]:
    """One ``<person>.eml`` per message and ``requests.csv`` for a mail-merge, owner-only.

    The files are written, each flushed to disk, into a hidden staging folder beside
    ``folder``, which is then renamed to ``folder`` in one step (or, if ``folder`` exists,
    each file replaces its namesake in one step): a stopped ``confirm send`` leaves no partial
    or empty message, and the next one removes the staging folder it left.

    The CSV's cells go through ``reports.tables.inert``: an app name starting with ``=`` must
    not become a formula in the spreadsheet a mail-merge opens it in."""
    from reports import staging as stage

    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with stage.abandoned(parent, STAGING_LABEL) as stale:
            for left in stale:
                shutil.rmtree(left, ignore_errors=True)
        staging = stage.create(parent, f"{STAGING_LABEL}{folder.name}-")
    except OSError as err:
        raise DeliveryError(
            f"confirm.out: cannot create {folder}: {os_reason(err)}; set [confirm] out (or "
            "--out) to a folder this user can write; nothing was marked sent"
        ) from None
    try:
        names = _write_set(outgoing, staging.path)
        if folder.exists():
            for name in names:
                os.replace(staging.path / name, folder / name)
            stage.fsync_dir(folder)
        else:
            staging.rename_to(folder)
    except OSError as err:
        raise DeliveryError(
            f"confirm.out: cannot write {folder}: {os_reason(err)}; set [confirm] out (or "
            "--out) to a folder this user can write; nothing was marked sent"
        ) from None
    finally:
        staging.discard()
    return [folder / name for name in names]


def _write_set(outgoing: Sequence[Outgoing], into: Path) -> list[str]:
    from reports import staging as stage
    from reports.tables import inert  # pandas and openpyxl: only when files are written

    names: list[str] = []
    rows: list[dict[str, str]] = []
    for out in outgoing:
        name = _unused(f"{_file_name(out.owner)}", names)
        stage.write_durable(into / name, out.message.as_bytes())
        names.append(name)
        for item in out.items:
            rows.append(
                {
                    "to": out.owner,
                    "subject": str(out.message["Subject"]),
                    "app": plain_line(item.app_name),
                    "kind": item.kind,
                    "link": item.url,
                    "link_expires": item.expires.date().isoformat(),
                    "reason": plain_line(item.reason),
                    "message_file": name,
                }
            )
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows({key: inert(value) for key, value in row.items()} for row in rows)
    stage.write_durable(into / "requests.csv", table.getvalue().encode("utf-8"))
    names.append("requests.csv")
    stage.fsync_dir(into)
    return names


def _file_name(owner: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]", "_", owner)[:120]


def _unused(stem: str, taken: Sequence[str]) -> str:
    """``stem.eml``, or ``stem-2.eml``... when two addresses make the same file name."""
    name, n = f"{stem}.eml", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.eml"
    return name
