"""The package's shape, as DESIGN.md draws it: layers, private names, vocabulary in one place.

These read the source with :mod:`ast` (nothing is imported), so a violation names the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agentinsight

PACKAGE = Path(agentinsight.__file__).parent
MAX_LINES = 600

#: What the top level may hold besides sub-packages.
TOP_LEVEL_MODULES = {
    "__init__", "__main__", "catalog", "semconv", "exceptions", "frames", "plots",
    # the private base layer
    "_time", "_fs", "_http", "_settings",
}
SUB_PACKAGES = {"emit", "formats", "sources", "analysis", "alerts", "reports", "simulate", "stack",
                "cli"}

#: Layer of each part (DESIGN.md "Layout"): a module imports only from lower numbers, or from its
#: own part. Parts that share a number may import each other unless listed in APART.
LAYER = {
    "": 0, "catalog": 0, "semconv": 0, "exceptions": 0, "_time": 0, "_fs": 0, "_http": 0,
    "_settings": 0, "formats": 0, "emit": 1, "frames": 2, "sources": 3, "analysis": 3, "plots": 4,
    "alerts": 4, "reports": 4, "simulate": 5, "stack": 5, "cli": 6, "__main__": 6,
}
#: analysis takes DataFrames and never opens a connection: it does not know the sources.
APART = {frozenset({"sources", "analysis"})}
#: Strings that belong to the span vocabulary (semconv.py) and nowhere else in the code.
VOCABULARY = ("gen_ai.", "invoke_agent", "execute_tool")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if "notebooks" not in p.relative_to(PACKAGE).parts)


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["agentinsight", *parts])


def _part(dotted: str) -> str:
    """The top-level part a module belongs to: ``agentinsight.sources.files`` -> ``sources``."""
    rest = dotted.split(".")[1:]
    return rest[0] if rest else ""


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.endswith("__")  # type: ignore[union-attr]


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, module, name)`` of every agentinsight import in ``path``, in functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _dotted(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names
                      if a.name.split(".")[0] == "agentinsight"]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module]) if module else ".".join(base)
            if module.split(".")[0] == "agentinsight":
                found += [(node.lineno, module, a.name) for a in node.names]
    return found


def test_top_level_holds_only_the_designed_modules_and_sub_packages() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules <= TOP_LEVEL_MODULES, f"unexpected modules: {modules - TOP_LEVEL_MODULES}"
    assert packages == SUB_PACKAGES


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_part(path: Path) -> None:
    importer = _part(_dotted(path))
    bad = []
    for line, module, name in _imports(path):
        owner = _part(module)
        if owner == importer or owner in ("", "_time", "_fs", "_http", "_settings"):
            # own part, or the base layer's private modules (meant for every part) — but never
            # a private name inside those
            if owner != importer and _private(name):
                bad.append(f"line {line}: {module}.{name}")
            continue
        inner = module.split(".")[2:]
        if any(_private(p) for p in inner) or _private(name):
            bad.append(f"line {line}: {module}" + (f".{name}" if name else ""))
    assert not bad, f"{path.relative_to(PACKAGE)} imports private names of another part: {bad}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path: Path) -> None:
    importer = _part(_dotted(path))
    bad = []
    for line, module, _ in _imports(path):
        owner = _part(module)
        if owner in (importer, ""):
            continue
        if LAYER[owner] > LAYER[importer] or frozenset({owner, importer}) in APART:
            bad.append(f"line {line}: {module}")
    assert not bad, f"{path.relative_to(PACKAGE)} ({importer}) imports upward: {bad}"


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_span_vocabulary_is_spelled_only_in_semconv() -> None:
    files = [*_modules(), *sorted((PACKAGE / "reports" / "notebooks").glob("*.py"))]
    bad = []
    for path in files:
        if path.name == "semconv.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docs and any(v in node.value for v in VOCABULARY)):
                bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:60]!r}")
    assert not bad, "GenAI names typed outside semconv.py:\n" + "\n".join(bad)


def test_no_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_public_all_is_sorted(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__"
                                                 for t in node.targets)):
            names = [e.value for e in node.value.elts]  # type: ignore[attr-defined]
            assert names == sorted(names), f"{path.relative_to(PACKAGE)}: __all__ is not sorted"
