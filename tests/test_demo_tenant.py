"""The shipped demo tenant is exactly what ``python -m tools.generate_demo`` writes."""

from __future__ import annotations

from pathlib import Path

from connectors.demo import TENANT_DIR
from tools.generate_demo import write


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_shipped_tenant_is_in_sync_with_its_generator(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert written, "the generator wrote nothing"
    shipped, generated = _files(TENANT_DIR), _files(tmp_path)
    assert sorted(shipped) == sorted(generated)
    stale = [name for name in generated if shipped[name] != generated[name]]
    assert not stale, f"regenerate: python -m tools.generate_demo ({', '.join(stale)} differ)"
