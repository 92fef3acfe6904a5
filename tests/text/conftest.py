"""Fixtures for the text tests: the built-in lexicon and the real ``broadcaster`` executable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from broadcaster.text import Lexicon, load_lexicon


@pytest.fixture(scope="session")
def lexicon() -> Lexicon:
    """The built-in lexicon (parsed once; it is immutable)."""
    return load_lexicon()


@pytest.fixture(scope="session")
def broadcaster_exe() -> Path:
    """The installed console script next to the interpreter running the tests (.venv/bin)."""
    exe = Path(sys.executable).with_name("broadcaster")
    if not exe.exists():
        pytest.fail(f"console script not installed: {exe} (pip install -e .)")
    return exe
