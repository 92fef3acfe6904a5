"""The cache fixture shared by the cache tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.cache import AudioCache


@pytest.fixture
def cache(tmp_path: Path) -> AudioCache:
    return AudioCache(tmp_path / "cache", 10 * 1024 * 1024)
