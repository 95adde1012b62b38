"""The one way bgbench packages load names lazily (so ``import bgbench`` imports no torch).

A package sets ``__getattr__ = lazy_attributes(__name__, {"name": "module.defining.it"}, submodules)``:
the first access to ``package.name`` imports the defining module and returns its ``name``; a name in
``submodules`` returns the submodule itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, names: dict[str, str],
                    submodules: Iterable[str] = ()) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` serving ``names`` (name -> defining module) and
    ``submodules`` (names of ``package.<name>`` modules), each imported on first access."""
    table = dict(names)
    modules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(import_module(table[name]), name)
        if name in modules:
            return import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
