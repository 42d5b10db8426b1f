"""First-use seeding: an empty local index gets searchqa's own documentation.

Installed wheels carry README.md and docs/ in ``searchqa/seed``; a source checkout uses the
project's own files.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from searchqa.index.build import IndexReport, index_sources
from searchqa.index.store import IndexStore
from searchqa.settings import Settings

log = logging.getLogger(__name__)
_CHECKOUT = Path(__file__).resolve().parents[2]


def seed_sources() -> list[Path]:
    """README.md and docs/, from the wheel or the checkout."""
    packaged = resources.files("searchqa").joinpath("seed")
    root = Path(str(packaged)) if packaged.is_dir() else _CHECKOUT
    return [path for path in (root / "README.md", root / "docs") if path.exists()]


def index_is_empty(path: Path) -> bool:
    store = IndexStore.open_reader(path)
    if store is None:
        return True
    try:
        return store.count() == 0
    finally:
        store.close()


async def seed_index_if_empty(settings: Settings) -> IndexReport | None:
    """Index the documentation when the local engine is in use and its index is empty."""
    if "local" not in settings.search.engines or not index_is_empty(settings.index.path):
        return None
    sources = seed_sources()
    if not sources:
        return None
    report = await index_sources([str(path) for path in sources], settings=settings)
    log.info("seeded the local index with %d documents", report.added)
    return report
