"""``report.json``: the report model as JSON, validated against the shipped JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from reports.base import write_private


@cache
def schema() -> dict[str, Any]:
    text = resources.files("reports").joinpath("schema/report.schema.json").read_text("utf-8")
    return dict(json.loads(text))


@cache
def _validator() -> Any:
    """The schema's validator, checked and built once (what ``jsonschema.validate`` redoes on
    every call)."""
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


def validate(model: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the model does not match the schema (the most
    relevant error, as ``jsonschema.validate`` picks it)."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(model))
    if error is not None:
        raise error


class JsonReport:
    name = "json"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        validate(model)
        data = json.dumps(model, indent=2, ensure_ascii=False, sort_keys=False).encode()
        return [write_private(out_dir / "report.json", data + b"\n")]
