"""The house's floors (docs/ARCHITECTURE.md), checked on every run.

- the import-linter contracts in pyproject.toml: each package imports only the floors below it,
  integrity/ imports nothing of ours, policy/ only pure parts, the agent no server part;
- no import circle anywhere, between any two modules (not only among siblings);
- no import hidden inside a function or under ``TYPE_CHECKING`` (where circles hide), except a heavy
  dependency deferred on purpose, which says so in a ``# Deferred:`` comment;
- SQL only in storage/ (and in the two other programs' own SQLite files: the witness's state and the
  agent's journal), so every statement the server runs has one home.
"""

from __future__ import annotations

import ast
import re
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
    return sorted(set(found))


def test_no_import_is_hidden_in_a_function() -> None:
    hidden = [line for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))
              for line in _hidden_imports(path)]
    assert not hidden, "imports belong at the top of the module:\n" + "\n".join(hidden)


SQL = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH \w+ AS|CREATE |ALTER |DROP )")
#: Other programs' own databases: the witness (another authority's SQLite) and the agent's journal.
OWN_DATABASES = {"witness/state.py", "ingest/spool.py"}
#: The connection methods that run a statement: only storage/ calls them.
RUNS_SQL = frozenset({"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"})


def _sql_strings(path: Path) -> list[str]:
    """Statements written as strings (f-strings too, by their first literal part) and statement calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            text = str(node.values[0].value)
        if text is not None and SQL.match(text):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text.strip().splitlines()[0][:60]}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL
              and isinstance(node.func.value, ast.Attribute | ast.Name)
              and (node.func.value.attr if isinstance(node.func.value, ast.Attribute) else node.func.value.id)
              in ("pool", "conn", "connection")):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: .{node.func.attr}(...) on a database connection")
    return sorted(set(found))


def test_sql_lives_in_storage() -> None:
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        if package == "storage":
            continue
        for path in sorted((REPO / package).rglob("*.py")):
            name = str(path.relative_to(REPO))
            if name not in OWN_DATABASES and (lines := _sql_strings(path)):
                found[name] = lines
    stray = [line for lines in found.values() for line in lines]
    assert not stray, "SQL belongs in storage/:\n" + "\n".join(stray)


def test_the_server_starts_without_the_heavy_libraries() -> None:
    """OpenCV (~60 MiB) and jieba's dictionary (~170 MiB) load on first use, not with the server: a server
    taking uploads stays inside issue 17's memory bound (20 uploads <= 200 MiB) unless it masks or detects."""
    probe = ("import sys, api.app, custody.entry, services.redaction, services.faces, services.plates, policy.names; "
             "print(sorted(m for m in ('cv2', 'jieba') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
