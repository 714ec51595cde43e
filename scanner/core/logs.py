"""Logging set-up: readable lines to stderr by default, JSON lines for log shippers.

Our own loggers log at the chosen level; secrets never reach a log because no message carries
a token, a secret or a secret-bearing URL (see scanner.net.http.safe_url).

The libraries we call (msal, google-auth, googleapiclient, urllib3, requests, azure) log too,
and not with our care: msal logs the whole body of a token answer it cannot parse, with a
traceback. Their loggers get a handler of their own, at WARNING or above, whose filter makes
each record one line (``scanner.core.names.one_line``), without traceback or stack and with URL
query strings cut. What they failed at reaches the user as our own error instead.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from scanner.core.names import ELLIPSIS, one_line

OUR_LOGGERS = ("scanner", "connectors", "reports")
LIBRARY_LOGGERS = (
    "msal",
    "azure",
    "google",
    "google_auth_httplib2",
    "googleapiclient",
    "httplib2",
    "urllib3",
    "requests",
)
LIBRARY_FLOOR = {
    # msal's error records are the bodies themselves ("Token response is not in json format:
    # <the page>", oauth2cli/oauth2.py) and its warnings concern what we do not use (brokers,
    # regions, browsers); every msal failure reaches the user as connectors.entra's own line.
    # It logs nothing at CRITICAL, so this silences it; the filter still holds if it ever does.
    "msal": logging.CRITICAL,
}
"""Loggers kept above WARNING, and why."""
_QUERY = re.compile(r"(/[^\s?#'\"<>]*)\?[^\s'\"<>]+")


class OneLineFilter(logging.Filter):
    """A library record as one safe line: no traceback, no stack, no URL query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format
            message = str(record.msg)
        record.msg = one_line(_QUERY.sub(lambda m: f"{m.group(1)}?{ELLIPSIS}", message))
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "warning", fmt: str = "text") -> None:
    handler = _stderr(fmt)
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # A filter on a logger sees only that logger's own records, not its children's
    # (msal.application, google.auth._default): the filter goes on the handler.
    libraries = _stderr(fmt)
    libraries.addFilter(OneLineFilter())
    chosen = logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [libraries]
        logger.setLevel(max(logging.WARNING, chosen, LIBRARY_FLOOR.get(name, logging.NOTSET)))
        logger.propagate = False


def _stderr(fmt: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return handler
