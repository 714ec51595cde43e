"""The ``export`` command: findings for a SIEM (OCSF) or the inventory for a GRC tool
(CycloneDX SaaSBOM), to stdout or a file.

Registered on the ``shadowit`` group in ``scanner.app.cli``, which wraps it in its
``errors_to_exit``; the work is in ``scanner.app.exporting``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.app import config as configuration
from scanner.app.cli_options import config_option


@click.command()
@config_option
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["ocsf", "cyclonedx"]),
    help="ocsf: one OCSF Detection Finding per finding (JSON lines); "
    "cyclonedx: the inventory as a CycloneDX 1.6 SaaSBOM.",
)
@click.option(
    "--out",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File to write; - for stdout.",
)
@click.option(
    "--scan", "scan_id", type=int, help="Export this scan (default: the latest finished)."
)
@click.option("--redact-users", is_flag=True, help="Replace user emails with stable pseudonyms.")
def export(config_path: Path, fmt: str, out: Path, scan_id: int | None, redact_users: bool) -> None:
    """Export findings as OCSF events or the inventory as a CycloneDX SaaSBOM, for a SIEM or
    GRC tool (docs/reports.md). Needs the `exports` extra.

    Example: shadowit export --config config.toml --format ocsf --out findings.ocsf.jsonl
    """
    from scanner.app import exporting

    cfg = configuration.load(config_path)
    data = exporting.export(
        cfg, fmt, scan_id=scan_id, redact=redact_users or cfg.report.redact_users
    )
    if str(out) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    click.echo(str(exporting.write(data, out)))
