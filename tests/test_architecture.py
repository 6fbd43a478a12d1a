"""The layout holds: floors import only downwards, no import circles, every module importable first.

The import graph is read from the source (ast), not by importing, so a circle that Python happens
to survive today is still found. docs/operations.md ("Layout") explains the floors."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "schemas", "connectors", "classifiers", "enrichers", "sinks", "pipeline", "harness", "luister",
            "bench")
# each floor may import only the floors listed for it (and itself)
ALLOWED = {
    "core": set(),
    "schemas": {"core"},
    "enrichers": {"core", "schemas"},
    "classifiers": {"core", "schemas", "enrichers"},  # the encoder asks the language enricher
    "sinks": {"core", "schemas"},
    "connectors": {"core", "schemas"},
    "pipeline": {"core", "schemas", "classifiers", "enrichers", "sinks", "connectors"},
    "harness": {"core", "schemas", "sinks"},
    "luister": {"core", "schemas", "classifiers", "enrichers", "sinks", "connectors", "pipeline", "harness"},
    "bench": {"core", "schemas", "classifiers", "enrichers", "sinks", "connectors", "pipeline", "harness"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path) -> set[str]:
    """Project modules `name` imports anywhere in its body (also inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out.update(t for t in map(_resolve, targets) if t and t != name)
    return out


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def test_the_graph_is_read_from_real_sources():
    assert "pipeline.stages.normalize" in GRAPH and "core.settings" in GRAPH["pipeline.app"]


@pytest.mark.parametrize("floor", sorted(ALLOWED))
def test_each_floor_imports_only_the_floors_below_it(floor):
    wrong = sorted(f"{name} -> {target}" for name, targets in GRAPH.items() if name.split(".")[0] == floor
                   for target in targets if target.split(".")[0] not in ALLOWED[floor] | {floor})
    assert not wrong, "imports against the layout:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    assert _cycles(GRAPH) == []


def test_every_module_can_be_imported_first(tmp_path):
    """Each module in a fresh interpreter, before anything else of the project (one process per module,
    run a few at a time: ~150 interpreters)."""
    names = sorted(MODULES)
    env_data = str(tmp_path / "faust")
    script = ("import importlib, sys; importlib.import_module(sys.argv[1])")
    failures = []
    procs: list[tuple[str, subprocess.Popen]] = []

    def reap(proc_name: str, proc: subprocess.Popen) -> None:
        _, err = proc.communicate(timeout=240)
        if proc.returncode != 0:
            failures.append(f"{proc_name}: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")

    import os
    env = {**os.environ, "LUISTER_CLASSIFIER": "baseline", "LUISTER_WORKER_DATA_DIR": env_data}
    for name in names:
        procs.append((name, subprocess.Popen([sys.executable, "-c", script, name], cwd=ROOT, env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
        if len(procs) >= 3:
            reap(*procs.pop(0))
    for item in procs:
        reap(*item)
    assert not failures, "modules that cannot be imported first:\n" + "\n".join(failures)


def test_every_topic_of_the_catalogue_is_in_the_operations_table():
    from core.settings import Settings
    from core.topics import catalogue

    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [f"{spec.role} ({spec.name})" for spec in catalogue(Settings()).values()
               if f"| `{spec.name}` | `{spec.role}` |" not in doc]
    assert not missing, "topics missing from docs/operations.md, Topics: " + ", ".join(missing)
