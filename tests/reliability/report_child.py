"""The process the write tests kill: ``python -m tests.reliability.report_child MODE ARGS``.

It prints ``paused`` at one chosen point of writing a set of files and waits there, so the
parent's SIGKILL lands exactly at that point:

- ``render MODEL OUT``: a report set, between its second and third format;
- ``publish MODEL OUT``: a report set, after the first of its files is renamed into place;
- ``mail FOLDER``: two message files, while the second is being written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from reports.confirm.mail import LinkItem, Outgoing, write_files
from reports.render import FORMATS, render

WAIT = 30.0
"""The parent kills within milliseconds; this only bounds an orphan."""


def pause() -> None:
    print("paused", flush=True)
    time.sleep(WAIT)


class Pausing:
    """A report format that stops the child where it stands."""

    name = "pause"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        pause()
        return []


class PausingMessage(EmailMessage):
    def as_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        pause()
        return super().as_bytes(*args, **kwargs)


def _pause_after_first(source: Path, target: Path) -> None:
    os.replace(source, target)
    pause()


def _message(to: str, kind: type[EmailMessage]) -> Outgoing:
    message = kind()
    message["To"] = to
    message["Subject"] = "Does your team own Jasper?"
    message.set_content("Please open the link.\n")
    item = LinkItem("r1", "Jasper", "http://127.0.0.1:8765/c/x", datetime.now(UTC), "uses", "new")
    return Outgoing(to, (item,), message)


def main() -> None:
    mode = sys.argv[1]
    if mode == "mail":
        outgoing = [_message("ana@acme.example", EmailMessage)]
        outgoing.append(_message("ben@acme.example", PausingMessage))
        write_files(outgoing, Path(sys.argv[2]))
        return
    model = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    out = Path(sys.argv[3])
    if mode == "render":
        known = {**FORMATS, "pause": Pausing()}
        render(model, out, ["html", "json", "pause", "csv", "xlsx"], known)
    else:
        render(model, out, ["html", "json", "csv", "xlsx"], replace=_pause_after_first)


if __name__ == "__main__":
    main()
