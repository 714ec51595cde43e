"""The process the crash suite kills: ``python -m tests.reliability.crash_child OUT``.

It imports everything first and prints ``ready`` so the parent's random delay lands inside the
scan, not inside Python's start-up; then it scans the embedded demo tenant (the real
connectors against the local fake providers, the store and the analysis) into ``OUT``: the
night before ``DEMO_NOW`` and then ``DEMO_NOW``, skipping nights already finished, exactly as
``shadowit demo`` does, but without rendering reports (the crash suite is about the store).
"""

from __future__ import annotations

import sys
from pathlib import Path

from connectors.demo import DEMO_NOW, NIGHT1
from scanner.app import config as configuration
from scanner.app.demo import load_tenant, serve, write_config
from scanner.app.pipeline import run_scan
from scanner.net.http import new_session
from scanner.store.database import Store


def scan_demo(out: Path) -> None:
    """Scan the demo tenant into ``out/shadowit.db``, resuming where a killed run stopped."""
    out.mkdir(parents=True, exist_ok=True)
    tenant = load_tenant()
    for night in (NIGHT1, DEMO_NOW):
        if _finished_nights(out / "shadowit.db") > (0 if night == NIGHT1 else 1):
            continue
        with serve(tenant, night) as endpoints:
            cfg = configuration.load(write_config(out, endpoints))
            session = new_session(endpoints["ca_path"])
            run_scan(cfg, now=night, session=session, sleep=lambda _s: None)


def _finished_nights(path: Path) -> int:
    if not path.exists():
        return 0
    store = Store.open(path)
    try:
        return len(store.scans("finished"))
    finally:
        store.close()


def main() -> None:
    out = Path(sys.argv[1])
    print("ready", flush=True)
    scan_demo(out)
    print("done", flush=True)


if __name__ == "__main__":
    main()
