"""The import graph of the project's modules points one way: no cycle (a
function-level import counts like any other, so dodging a cycle with one
fails too), and no module imports a private (_underscore) name of another."""

import ast
from pathlib import Path

from django.conf import settings

PACKAGES = ("repair_flow", "records", "sla", "flows", "letters", "retention")


def project_modules() -> dict[str, Path]:
    root = Path(settings.BASE_DIR)
    modules = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imports(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Each module's imports of project modules, and every private name
    imported from another module."""

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}".strip(".")
                targets = [(f"{base}.{alias.name}", alias.name) for alias in node.names]
                targets.append((base, None))
            else:
                continue
            for target, imported in targets:
                module = owner(target)
                if module is None or module == name:
                    continue
                graph[name].add(module)
                if imported and imported.startswith("_") and not imported.startswith("__"):
                    private.append(f"{name} imports {imported} from {module}")
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_project_modules():
    graph, _private = imports(project_modules())
    assert cycles(graph) == []


def test_no_private_name_is_imported_from_another_module():
    _graph, private = imports(project_modules())
    assert private == []


def test_the_checks_catch_a_cycle_and_a_private_import(tmp_path, settings):
    # The checks themselves, on a small tree of their own.
    package = tmp_path / "records"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from records.b import _hidden\n")
    (package / "b.py").write_text("def f():\n    from records import a\n\n_hidden = 1\n")
    settings.BASE_DIR = tmp_path
    graph, private = imports(
        {name: path for name, path in project_modules().items() if name.startswith("records")}
    )
    assert cycles(graph) == [["records.a", "records.b"]]
    assert private == ["records.a imports _hidden from records.b"]


# The floors above the flow engine (design.md: models <- engine <- kernel <-
# case kinds <- web/API/tasks).
ABOVE_ENGINE = (
    "flows.cases",
    "flows.repair",
    "flows.objections",
    "flows.monitoring",
    "flows.web",
    "flows.api",
    "flows.tasks",
)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in graph[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    return seen


def test_the_flow_engine_stands_below_the_case_kernel():
    graph, _private = imports(project_modules())
    above = {
        module
        for engine in ("flows.flows", "flows.engine")
        for module in reachable(graph, engine)
        if module.startswith(ABOVE_ENGINE)
    }
    assert above == set()
