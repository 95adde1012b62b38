"""Code-shape rules for src/bgbench, read from the source with ``ast`` (no third-party tools).

- No import cycle among bgbench modules. Every ``import`` / ``from ... import`` counts, wherever it
  stands (module level, inside a function, under ``TYPE_CHECKING``). ``from pkg import name`` is an
  edge to ``pkg.name`` when that is a module, else to ``pkg``; relative imports are resolved; a
  package's ``__init__`` importing its own submodules is an edge like any other.
- No function or method longer than 60 lines (``end_lineno - lineno + 1``, decorators excluded),
  unless the line directly above its ``def`` (or above its first decorator) is a ``# long: <reason>``
  comment.
- No stage module (``bgbench.eval``, ``bgbench.challenge``, ``bgbench.explain``) imports training code
  (``bgbench.augment``, ``bgbench.training``).
- Trees are read through the data layer: no module outside ``bgbench.data`` (and the build, which
  writes trees) names the tree readers ``load_variant``, ``load_masks`` or ``list_image_folder``
  (imported, called or passed on).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "bgbench"
MAX_LINES = 60
LONG_MARK = "# long:"
STAGES = ("bgbench.eval", "bgbench.challenge", "bgbench.explain")
TRAINING = ("bgbench.augment", "bgbench.training")
TREE_READERS = frozenset({"load_variant", "load_masks", "list_image_folder"})
READER_HOMES = ("bgbench.data", "bgbench.builder")


def module_files(package: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is_package)} of every .py file under ``package``."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


def _known(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The longest prefix of dotted ``name`` that is a bgbench module (None outside bgbench)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from X import ...`` reads from (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_edges(module: str, path: Path, is_package: bool,
                 modules: dict[str, tuple[Path, bool]]) -> set[str]:
    """bgbench modules that ``module`` imports anywhere in its file."""
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in modules else base)
        for target in targets:
            known = _known(target, modules)
            if known is not None:
                edges.add(known)
    return edges


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: import_edges(name, path, is_package, modules)
            for name, (path, is_package) in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm (the graph is small: recursion is fine)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def long_functions(package: Path = PACKAGE, limit: int = MAX_LINES) -> list[str]:
    """``file:line name length`` of every function over ``limit`` lines without a ``# long:`` reason."""
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            if length <= limit:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = {lines[n - 2].strip() for n in (node.lineno, first) if n >= 2}
            if any(line.startswith(LONG_MARK) for line in above):
                continue
            rel = path.relative_to(package.parent).as_posix()
            found.append(f"{rel}:{node.lineno} {node.name} {length}")
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def training_imports(graph: dict[str, set[str]]) -> list[str]:
    """``stage -> training module`` for every import of training code by a stage module."""
    return sorted(f"{module} -> {target}" for module, targets in graph.items() if _within(module, STAGES)
                  for target in targets if _within(target, TRAINING))


def tree_reader_uses(package: Path = PACKAGE) -> list[str]:
    """``module:line name`` of every tree reader named (imported, called, looked up as an attribute)
    outside the data layer and the build."""
    found = []
    for module, (path, _) in module_files(package).items():
        if _within(module, READER_HOMES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Name):
                names = [node.id]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            found += [f"{module}:{node.lineno} {name}" for name in names if name in TREE_READERS]
    return sorted(found)


def test_no_import_cycle_among_bgbench_modules():
    found = cycles(import_graph())
    assert not found, "import cycles (members of each):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_function_over_60_lines_without_a_reason():
    found = long_functions()
    assert not found, f"functions over {MAX_LINES} lines (add '{LONG_MARK} <reason>' above the def only " \
                      "where splitting would hurt):\n" + "\n".join(found)


def test_the_rules_see_what_they_check(tmp_path):
    """The checks themselves: a cycle through a package __init__ and a function-level import, a
    relative import, and a long function with and without its reason."""
    pkg = tmp_path / "bgbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from bgbench.sub.a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from bgbench.sub import helper\n")
    (pkg / "sub" / "helper.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("from bgbench import sub\n")
    body = "".join(f"    x = {i}\n" for i in range(60))
    (pkg / "long.py").write_text(f"def too_long():\n{body}\n# long: generated table\ndef allowed():\n{body}")
    graph = import_graph(pkg)
    assert graph["bgbench.sub.helper"] == {"bgbench.sub.b"}
    assert graph["bgbench.sub.a"] == {"bgbench.sub.helper"}
    assert graph["bgbench.sub.b"] == {"bgbench.sub"}
    assert cycles(graph) == [["bgbench.sub", "bgbench.sub.a", "bgbench.sub.b", "bgbench.sub.helper"]]
    assert long_functions(pkg) == ["bgbench/long.py:1 too_long 61"]


def test_no_stage_module_imports_training_code():
    found = training_imports(import_graph())
    assert not found, "stage modules importing training code:\n" + "\n".join(found)


def test_trees_are_read_only_through_the_data_layer():
    found = tree_reader_uses()
    assert not found, "tree readers used outside bgbench.data (use In9Tree):\n" + "\n".join(found)


def test_the_layer_rules_see_what_they_check(tmp_path):
    pkg = tmp_path / "bgbench"
    for sub in ("eval", "challenge", "data", "training", "reporting"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "augment.py").write_text("")
    (pkg / "eval" / "draws.py").write_text("def f():\n    from bgbench.augment import aligned_masks\n")
    (pkg / "challenge" / "data.py").write_text("import bgbench.training.data\n")
    (pkg / "training" / "run.py").write_text("from bgbench.augment import x\n")
    (pkg / "training" / "data.py").write_text("")
    (pkg / "data" / "tree.py").write_text("from bgbench.data.images import load_variant\nload_variant(1)\n")
    (pkg / "reporting" / "mosaic.py").write_text("import bgbench.data.images as im\n\n\nim.load_masks(1)\n")
    assert training_imports(import_graph(pkg)) == ["bgbench.challenge.data -> bgbench.training.data",
                                                   "bgbench.eval.draws -> bgbench.augment"]
    assert tree_reader_uses(pkg) == ["bgbench.reporting.mosaic:4 load_masks"]
