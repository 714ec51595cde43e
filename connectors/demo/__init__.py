"""The embedded demo tenant: a fictional company stored as provider-shaped API responses.

``tenant/`` holds one folder per provider (``graph``, ``google``, ``okta``, ``files``) with the
JSON collections the fake providers serve, written by ``tools/generate_demo.py`` (run
``python -m tools.generate_demo`` from the repository root after editing it; a test checks they
agree). The constants below are what the demo and the tests need at run time; the generator
uses them too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
"""The demo's second night; the first night is one day earlier."""
NIGHT1 = DEMO_NOW - timedelta(days=1)
DOMAIN = "larkspur.example"
"""The fictional company's email domain."""
TENANT_DIR = Path(__file__).parent / "tenant"
"""The shipped tenant files."""
