"""Loads one mutated module in place of the real one, in the bench's test run and every Python it starts.

``bench/mutation.py`` puts this directory first on PYTHONPATH and names the mutant in
``BROADCASTER_MUTANT`` (a JSON file: module name, its real path, the mutated text's path), so agent
and server subprocesses started by the tests run the mutant too. Without that variable it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

ENV_VARIABLE = "BROADCASTER_MUTANT"


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, path: str, source: str) -> None:
        self._path = path
        self._source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self._source, self._path, "exec"), module.__dict__)  # noqa: S102 - the point of the bench


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, path: str, source: str) -> None:
        self._module = module
        self._path = path
        self._source = source

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._module:
            return None
        return importlib.util.spec_from_file_location(fullname, self._path, loader=_MutantLoader(self._path, self._source))


def install(description_file: str) -> None:
    """Serve the mutant described in ``description_file`` for its module's next import."""
    description = json.loads(Path(description_file).read_text(encoding="utf-8"))
    source = Path(description["source_file"]).read_text(encoding="utf-8")
    sys.meta_path.insert(0, _MutantFinder(description["module"], description["path"], source))


if os.environ.get(ENV_VARIABLE):
    install(os.environ[ENV_VARIABLE])
