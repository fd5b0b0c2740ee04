"""The package's shape (CONTRIBUTING.md): layers in the order data flows, checked by import-linter's
contract in pyproject.toml; no import cycle; no import of the package's own modules inside a
function (but the two documented ones that keep the command line fast); `__all__` in every module;
no module over 600 lines."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "recsys"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 600
# The only imports of the package's own modules made inside functions: both load Keras and its
# backend (seconds) on first use, so that `import recsys.config`, `python main.py --help` and a
# mistyped setting answer at once.
LAZY_SELF_IMPORTS = {
    ("recsys/__init__.py", "__getattr__", "recsys.serve.recommender"),
    ("recsys/cli.py", "engine", "recsys"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def lint_imports(root: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts of pyproject.toml over the package under `root` (no cache written)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [shutil.which("lint-imports") or "lint-imports", "--config", str(root / "pyproject.toml")]
    return subprocess.run(
        [*command, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_layer_contract_is_kept(tmp_path):
    result = lint_imports(ROOT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_layer_contract_catches_an_import_from_a_higher_layer(tmp_path):
    """The same contract over a copy in which the data layer imports the pipeline: broken."""
    copy = tmp_path / "copy"
    shutil.copytree(PACKAGE, copy / "recsys", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    raw = copy / "recsys" / "data" / "raw.py"
    raw.write_text(raw.read_text() + "\nimport recsys.pipeline  # noqa\n")
    result = lint_imports(copy, tmp_path)
    assert result.returncode != 0 and "recsys.data.raw -> recsys.pipeline" in result.stdout


def test_no_import_cycle():
    graph = grimp.build_graph("recsys")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


def own_imports_in_functions(path: Path) -> set[tuple[str, str, str]]:
    found = set()
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." if node.level else (node.module or "")]
            for name in names:
                if name == "." or name == "recsys" or name.startswith("recsys."):
                    found.add((path.relative_to(ROOT).as_posix(), function.name, name))
    return found


def test_no_function_level_import_of_the_package_but_the_two_lazy_ones():
    found = set().union(*(own_imports_in_functions(path) for path in MODULES))
    assert found == LAZY_SELF_IMPORTS


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_every_module_declares_what_it_exports(path):
    module = importlib.import_module(module_name(path))
    assert isinstance(getattr(module, "__all__", None), list), f"{path} has no __all__ list"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == [], f"{path}: __all__ names what it does not define"
    assert module.__doc__, f"{path} has no docstring"


def test_no_module_is_over_600_lines():
    lines = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in MODULES}
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}


def test_the_package_root_exports_the_public_api_without_loading_keras():
    code = (
        "import sys, recsys; "
        "names = sorted(recsys.__all__); "
        "print(names, 'keras' in sys.modules); "
        "from recsys import Recommender; print(Recommender.__module__, 'keras' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    first, second = result.stdout.strip().splitlines()
    assert first.endswith("False") and "'Recommender'" in first and "'load_config'" in first
    assert "'ConfigError'" in first and "'Config'" in first
    assert second == "recsys.serve.recommender True"
