"""``report.html``: one self-contained page for the IT security reviewer.

Everything is inline (CSS, JS, charts as server-rendered SVG) and the Content-Security-Policy
forbids any request, so the file opens from disk or an email attachment. Jinja2 autoescaping
stays on, so an app named ``<script>`` is shown as text, and every string the page shows, in
the markup or in the embedded JSON, has its control, bidi and zero-width characters shown as
``⟨U+202E⟩`` (``scanner.core.names.visible``): no name can reorder itself or carry a NUL or ESC into
the DOM. ``report.json`` keeps the exact values.

The top of the page (scan, sources, changes, counts, charts) is rendered here. The findings and
apps tables and the per-app details are built in the browser from one embedded JSON blob,
with DOM APIs and ``textContent`` only, a page at a time: a 5,000-app inventory stays a page
the browser can sort, filter and open in well under a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from reports.actions import ACCEPT_DAYS, CONFIG
from reports.base import write_private
from scanner.core import words
from scanner.core.names import visible, visible_data

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
RISK_ORDER = ("critical", "high", "medium", "low")
STATUS_ORDER = ("unsanctioned", "banned", "tolerated", "sanctioned", "internal", "first_party")
USERS_SHOWN = 25
"""Users named per app in the page; the full lists are in report.json and inventory.xlsx."""
CATEGORIES_SHOWN = 14
TREND_SCANS = 30
CHANGES_SHOWN = 40


@cache
def environment() -> jinja2.Environment:
    """The report's templates, compiled once per process (jinja reloads one whose file changed)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    env.filters["tojson_safe"] = _json_for_script
    env.filters["visible"] = visible
    env.filters["when"] = when
    env.filters["words"] = _words
    env.filters["plural"] = words.plural
    env.filters["finding_words"] = finding_words
    return env


def finding_words(line: str) -> str:
    """``HubSpot: risky_scopes`` (a change list line) -> ``HubSpot: risky permissions``."""
    app, _, kind = line.rpartition(": ")
    if not app or kind not in words.FINDING_KINDS:
        return line
    return f"{app}: {words.label('finding_kind', kind)}"


def _words(code: str | None, topic: str) -> str:
    """``{{ f.kind|words("finding_kind") }}``: the words a person reads for a code."""
    return words.label(topic, code)


def _visible(value: Any) -> Any:
    """Each ``{{ value }}`` as ``visible`` text; escaped Markup stays Markup (a mark adds no
    markup)."""
    if not isinstance(value, str):
        return value
    shown = visible(value)
    return Markup(shown) if isinstance(value, Markup) else shown  # noqa: S704


def _json_for_script(value: Any) -> Markup:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' survives, so neither
    '</script>' nor '<!--' can end it, and it needs no HTML escaping (a script element's
    text is not entity-decoded, so escaping it would break the JSON)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - escaped above for the script context


def when(value: str | None) -> str:
    """``2026-11-20T06:00:00Z`` -> ``20 Nov 2026 06:00 UTC``; anything unparsable unchanged."""
    if not value:
        return "not recorded"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%d %b %Y %H:%M UTC")


def bars(counts: Iterable[tuple[str, int]], limit: int | None = None) -> list[dict[str, Any]]:
    """Bar rows for a chart: label, value, and width as a share (0..1) of the largest value.
    Past ``limit`` rows the rest are folded into one "other" row."""
    rows = [(str(label), int(n)) for label, n in counts]
    if limit is not None and len(rows) > limit:
        folded = rows[limit - 1 :]
        rows = [*rows[: limit - 1], (f"other ({len(folded)})", sum(n for _, n in folded))]
    top = max((n for _, n in rows), default=0) or 1
    return [
        {
            "label": label,
            "value": n,
            "share": n / top,
            "other": limit is not None and i >= limit - 1,
        }
        for i, (label, n) in enumerate(rows)
    ]


def trend(history: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Polyline points for the last scans, in a 0..1 box (the template scales them)."""
    recent = list(history)[-TREND_SCANS:]
    top = max((int(h[k]) for h in recent for k in keys), default=0) or 1
    step = 1 / (len(recent) - 1) if len(recent) > 1 else 0.0
    series = []
    for key in keys:
        points = [
            {"x": i * step if len(recent) > 1 else 0.5, "y": 1 - int(h[key]) / top, "value": h[key]}
            for i, h in enumerate(recent)
        ]
        series.append({"key": key, "points": points})
    labels = [
        {
            "x": i * step if len(recent) > 1 else 0.5,
            "scan": h["scan_id"],
            "day": str(h["started"])[:10],
        }
        for i, h in enumerate(recent)
    ]
    return {"series": series, "labels": labels, "top": top, "scans": len(recent)}


def _ordered(counts: Mapping[str, int], order: Sequence[str]) -> list[tuple[str, int]]:
    known = [(k, counts.get(k, 0)) for k in order if counts.get(k, 0)]
    rest = [(k, n) for k, n in counts.items() if k not in order and n]
    return known + rest


def charts(model: Mapping[str, Any]) -> dict[str, Any]:
    summary = model["summary"]
    statuses = _ordered(summary["apps_by_status"], STATUS_ORDER)
    return {
        "status": [
            {**row, "label": words.label("sanction", row["label"]), "code": row["label"]}
            for row in bars(statuses)
        ],
        "risk": bars((lvl, summary["apps_by_risk"].get(lvl, 0)) for lvl in RISK_ORDER),
        "category": bars(
            sorted(summary["apps_by_category"].items(), key=lambda kv: (-kv[1], kv[0])),
            limit=CATEGORIES_SHOWN,
        ),
        "trend": trend(model.get("history") or [], ("unsanctioned_marketing", "open_findings")),
    }


def source_health(sources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    problems = [s for s in sources if s["status"] != "ok" or s["skipped"]]
    return {
        "ok": sum(1 for s in sources if s["status"] == "ok"),
        "total": len(sources),
        "problems": problems,
    }


def page_data(model: Mapping[str, Any]) -> dict[str, Any]:
    """The compact JSON the tables and details are built from.

    Scope meanings are stored once and referenced by scope, and each app names at most
    ``USERS_SHOWN`` users, which keeps a 5,000-app, 50,000-user page to a few megabytes.
    """
    meanings: dict[str, str] = {}
    apps = []
    new = set(model["changes"].get("new_apps") or [])
    for app in model["apps"]:
        for scope in app["scopes"]:
            meanings.setdefault(_meaning_key(scope), scope["meaning"])
        apps.append(
            {
                **{k: v for k, v in app.items() if k not in ("scopes", "user_list")},
                "users_shown": app["user_list"][:USERS_SHOWN],
                "scopes": [
                    # An application permission carries a fifth item, its kind.
                    [s["scope"], s["level"], s.get("consent", []), s.get("grants", 0)]
                    + (["application"] if s.get("kind") == "application" else [])
                    for s in app["scopes"]
                ],
                "is_new": app["name"] in new,
            }
        )
    page = {
        "apps": apps,
        "findings": model["findings"],
        "meanings": meanings,
        # One words table for every code the page shows (scanner.core.words).
        "words": {topic: dict(table) for topic, table in words.TOPICS.items()},
        "accept": {"config": CONFIG, "until": accept_until(model)},
    }
    shown: dict[str, Any] = visible_data(page)
    return shown


def accept_until(model: Mapping[str, Any]) -> str:
    """The ``--until`` day the page's accept lines suggest: a quarter after the report."""
    made = datetime.fromisoformat(str(model["generated_at"]).replace("Z", "+00:00"))
    return (made.date() + timedelta(days=ACCEPT_DAYS)).isoformat()


def _meaning_key(scope: Mapping[str, Any]) -> str:
    """Where a permission's meaning is kept: an application permission means something else
    than the delegated one of the same name (every mailbox, not the user's)."""
    name = str(scope["scope"])
    return f"application:{name}" if scope.get("kind") == "application" else name


@cache
def assets() -> dict[str, Markup]:
    """The stylesheet and script, inlined verbatim (they hold no data and no template code)."""
    folder = resources.files("reports").joinpath("templates")
    css = folder.joinpath("report.css").read_text("utf-8")
    js = folder.joinpath("report.js").read_text("utf-8")
    if "</style" in css.lower() or "</script" in js.lower():
        raise ValueError("report.css / report.js must not close their own element")
    return {"css": Markup(css), "js": Markup(js)}  # noqa: S704 - our own static files


class HtmlReport:
    name = "html"

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        return [write_private(out_dir / "report.html", self.html(model).encode("utf-8"))]

    def html(self, model: Mapping[str, Any]) -> str:
        template = environment().get_template("report.html.j2")
        return template.render(
            report=model,
            charts=charts(model),
            health=source_health(model["scan"]["sources"]),
            data=page_data(model),
            changes_shown=CHANGES_SHOWN,
            severities=SEVERITY_ORDER,
            risks=RISK_ORDER,
            assets=assets(),
        )
