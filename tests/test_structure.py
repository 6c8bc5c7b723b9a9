"""The package structure, read from the source: no import cycle, no import from a lower layer
into a higher one, no module over the size a reader can hold (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalharness"
# Written once: each layer may import itself and the layers before it, never one after it.
LAYERS = ("core", "tasks", "env", "model", "agents", "scorers", "run", "rl", "report", "cli")
ROOT_MODULES = {"evalharness", "evalharness._compat"}  # the package itself: the version, the old names
MAX_LINES = 500
# Modules allowed over the limit, each at most at a given size: none since issue 18 split the
# gateway, the images, the CLI, the pipeline, the tests scorer and the shell.
OVER_THE_LIMIT: dict[str, int] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The evalharness modules `name` imports, at any depth of its code (lazy ones too), but
    not those under `if TYPE_CHECKING:` (types only, never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and candidate != "evalharness":
                out.add(candidate)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def layer_of(module: str) -> int | None:
    if module in ROOT_MODULES:
        return None
    first = module.split(".")[1]
    if first not in LAYERS:
        raise AssertionError(f"{module} is in no layer: put it in one of {LAYERS}")
    return LAYERS.index(first)


def test_every_module_is_in_a_layer_and_imports_only_its_own_or_lower_ones():
    wrong = []
    for module, imported in sorted(_graph().items()):
        mine = layer_of(module)
        for other in sorted(imported):
            theirs = layer_of(other)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{module} ({LAYERS[mine]}) imports {other} ({LAYERS[theirs]})")
    assert not wrong, "imports into a higher layer:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = _graph()
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_is_over_the_size_limit():
    large = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
             if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    grown = {name: n for name, n in large.items() if n > OVER_THE_LIMIT.get(name, MAX_LINES)}
    assert not grown, f"modules over {MAX_LINES} lines (or over their size in OVER_THE_LIMIT): {grown}"


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    # the test's own parts, on a made-up package: they must be able to fail
    fake = tmp_path / "evalharness"
    for rel, text in {"__init__.py": "", "core/__init__.py": "", "core/a.py": "from evalharness.run.b import x\n",
                      "run/__init__.py": "", "run/b.py": "import evalharness.core.a\n"}.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match="core.a \\(core\\) imports evalharness.run.b"):
        test_every_module_is_in_a_layer_and_imports_only_its_own_or_lower_ones()
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle()
    (fake / "core" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    with pytest.raises(AssertionError, match="core/big.py"):
        test_no_module_is_over_the_size_limit()
