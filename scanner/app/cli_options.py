"""Options every command group shares (the main group and the command modules beside it)."""

from __future__ import annotations

from pathlib import Path

import click

config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Path to config.toml (see config.example.toml).",
)
