"""The house's floors (docs/ARCHITECTURE.md), checked on every run.

- the import-linter contracts in pyproject.toml: each package imports only the floors below it,
  integrity/ imports nothing of ours, policy/ only pure parts, the agent no server part;
- no import circle anywhere, between any two modules (not only among siblings);
- no import hidden inside a function or under ``TYPE_CHECKING`` (where circles hide), except a heavy
  dependency deferred on purpose, which says so in a ``# Deferred:`` comment.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("foundation", "integrity", "policy", "storage", "services", "api", "ingest", "custody", "witness")


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_import_circle_between_any_modules() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported} -> ... -> {module}")
    assert not cycles, "\n".join(cycles)


def _hidden_imports(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: import under TYPE_CHECKING")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom) and not lines[sub.lineno - 2].strip().startswith(
                        "# Deferred:"):
                    found.append(f"{path.relative_to(REPO)}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    return found


def test_no_import_is_hidden_in_a_function() -> None:
    hidden = [line for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))
              for line in _hidden_imports(path)]
    assert not hidden, "imports belong at the top of the module:\n" + "\n".join(hidden)
