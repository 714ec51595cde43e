"""``report.html``: one self-contained page (inline CSS and JS, no network) rendered with
jinja2 autoescaping, so an app named ``<script>`` is shown as text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from reports.base import write_private


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_safe"] = _json_for_script
    return env


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>' or '<!--' breakout)."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class HtmlReport:
    name = "html"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        html = environment().get_template("report.html.j2").render(report=model)
        return [write_private(out_dir / "report.html", html.encode("utf-8"))]
