"""Provider answers decoded from bytes (scanner/net/jsonbody.py, Google's FastJsonModel)."""

from __future__ import annotations

import json

import pytest

from connectors.google.transport import FastJsonModel
from scanner.net.jsonbody import decode_json

PAGE = {"value": [{"id": "a", "n": 1, "ok": True, "none": None, "x": 1.5, "s": "é"}]}


def test_decodes_what_the_standard_library_decodes() -> None:
    body = json.dumps(PAGE).encode()
    assert decode_json(body) == json.loads(body) == PAGE
    assert decode_json(b"\xef\xbb\xbf" + body) == PAGE  # a UTF-8 byte-order mark is ignored


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>busy</html>", b'{"value": [', b'{"x": NaN}', b"\xff\xfe{}", b"[" * 2000],
    ids=["empty", "html", "cut", "nan", "not-utf8", "too-deep"],
)
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_json(body)


def test_the_google_model_decodes_bytes_and_unwraps_data() -> None:
    assert FastJsonModel().deserialize(json.dumps(PAGE).encode()) == PAGE
    wrapped = FastJsonModel(data_wrapper=True).deserialize(b'{"data": {"k": 1}}')
    assert wrapped == {"k": 1}
    # As googleapiclient's own model: a body that is not JSON comes back as text.
    assert FastJsonModel().deserialize(b"<html>busy</html>") == "<html>busy</html>"
