"""Provider answers decoded from their bytes with orjson: one place, one error type.

orjson parses UTF-8 bytes directly (no ``str`` copy of the body; 1.3-1.7x the standard
library's rate on Graph's sign-in pages, which bench/floor.py prints side by side). It rejects
what the standard library would have let through and no provider sends: a body that is not
UTF-8, ``NaN``/``Infinity``, nesting deeper than 1,024 levels
(https://github.com/ijl/orjson#deserialize); an integer beyond 64 bits becomes a float (the
providers send ids as strings). Each rejection is a ``ValueError`` here, which the callers turn
into their one-line "not JSON" error; the size cap stays in ``scanner.net.http``.
"""

from __future__ import annotations

from typing import Any

import orjson

_BOM = b"\xef\xbb\xbf"


def decode_json(body: bytes | bytearray | memoryview | str) -> Any:
    """The JSON value of ``body``; ``ValueError`` (orjson's ``JSONDecodeError``) if it is none.

    A UTF-8 byte-order mark, which RFC 8259 section 8.1 lets a parser ignore, is ignored."""
    if isinstance(body, bytes) and body.startswith(_BOM):
        body = body[len(_BOM) :]
    return orjson.loads(body)
