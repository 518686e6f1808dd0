"""The shape a newcomer can rely on: layers that import only downward, a pure engine that reads no
clock, every state change through the flow in dialogs/, and modules and classes small enough to read."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "neuroseq_core"
MAX_MODULE_LINES = 400
MAX_METHODS = 25
MAX_IMPORTS_IN_FUNCTIONS = 2

# What each folder of neuroseq_core may import from the project (besides itself). Layers go downward:
# domain <- safety <- content <- engine <- store <- service <- cli; dialogs/ is data the flow layers read.
ALLOWED = {
    "domain": set(),
    "safety": {"domain", "content.yamlio"},
    "content": {"domain", "safety", "dialogs"},
    "engine": {"domain", "safety", "content", "dialogs"},
    "store": {"domain"},
    "service": {"domain", "safety", "content", "engine", "store"},
    "cli": {"domain", "safety", "content", "engine", "store", "service", "dialogs", "bot"},
}
IO_MODULES = {"socket", "asyncio", "sqlalchemy", "httpx", "time", "os", "telegram", "threading", "pathlib"}


def _modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer_of(name: str) -> str | None:
    """The layer an imported module belongs to ("content.yamlio" is named apart), or None if outside."""
    parts = name.split(".")
    if parts[0] in ("bot", "dialogs"):
        return parts[0]
    if parts[0] != "neuroseq_core" or len(parts) < 2:
        return None
    if parts[1:3] == ["content", "yamlio"]:
        return "content.yamlio"
    return parts[1]


def test_every_folder_of_the_core_has_a_layer():
    folders = {p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(ALLOWED)
    assert {p.name for p in CORE.glob("*.py")} == {"__init__.py"}


def test_layers_import_only_downward():
    offenders = {}
    for path in _modules():
        own = path.relative_to(CORE).parts[0]
        if own not in ALLOWED:
            continue
        layers = {_layer_of(n) for n in _imports(path)} - {None, own}
        if own == "content" or "content" in ALLOWED[own]:
            layers.discard("content.yamlio")
        bad = {lay for lay in layers if lay not in ALLOWED[own] and not (lay or "").startswith(own + ".")}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(b for b in bad if b)
    assert offenders == {}


def test_only_the_telegram_command_imports_the_adapter():
    importers = {
        str(p.relative_to(ROOT))
        for p in _modules()
        if any(n.split(".")[0] in ("bot", "telegram") for n in _imports(p))
    }
    assert importers == {"neuroseq_core/cli/telegram.py"}
    main = ast.parse((CORE / "cli" / "main.py").read_text(encoding="utf-8"))
    assert not any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(main) if n not in main.body)


def test_the_engine_and_the_domain_do_no_io():
    offenders = {
        str(p.relative_to(ROOT)): sorted({n.split(".")[0] for n in _imports(p)} & IO_MODULES)
        for p in [*(CORE / "engine").glob("*.py"), *(CORE / "domain").glob("*.py")]
    }
    assert {k: v for k, v in offenders.items() if v} == {}


# Where the clock may be read: the one clock, the edges that feed events in (console, service,
# command line), and content loading (a helpline's staleness, the model cache). The engine and the
# domain take `now` from the event.
CLOCK_EDGES = {
    "domain/clock.py",
    "cli/console.py",
    "cli/data.py",
    "service/core.py",
    "content/resources.py",
    "safety/screen.py",
    "store/sqlite_inline.py",  # the driver's deadline for another process's lock (I/O timing, not domain time)
    "store/connect.py",  # how long a pooled connection sat unused (I/O timing)
}
_CLOCK = re.compile(r"\b(?:datetime\.now|date\.today|time\.time|time\.monotonic|utcnow)\(")


def test_only_the_edges_read_the_clock():
    readers = {
        str(path.relative_to(CORE)) for path in _modules() if _CLOCK.search(path.read_text(encoding="utf-8"))
    }
    assert readers <= CLOCK_EDGES, readers - CLOCK_EDGES
    assert not any(r.startswith(("engine/", "domain/")) and r != "domain/clock.py" for r in readers)


def test_every_event_carries_the_clock():
    from neuroseq_core.domain.events import Command

    with pytest.raises(ValueError):
        Command(name="start")  # type: ignore[call-arg]


def test_no_module_is_too_long_and_no_class_too_big():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
    big = {}
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if len(methods) > MAX_METHODS:
                    big[f"{p.relative_to(ROOT)}:{node.name}"] = len(methods)
    assert big == {}


def test_imports_inside_functions_are_rare_and_never_hide_a_cycle():
    inside = []
    for p in _modules():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                inside += [
                    f"{p.relative_to(ROOT)}:{n.lineno}"
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Import | ast.ImportFrom)
                ]
    assert len(inside) <= MAX_IMPORTS_IN_FUNCTIONS, inside


def test_state_changes_only_by_a_transition():
    """No `set_state`, and `.state` is assigned in one place: Turn.fire syncing the machine's state."""
    assignments = []
    for p in _modules():
        text = p.read_text(encoding="utf-8")
        assert "set_state(" not in text and ".jump(" not in text, p
        for node in ast.walk(ast.parse(text)):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == "state":
                    assignments.append(f"{p.relative_to(CORE)}:{ast.unparse(node)}")
    assert assignments == [
        "engine/registry.py:self.state = state",
        "engine/turn.py:self.s.state = self.state",
    ]
    fire = (CORE / "engine" / "turn.py").read_text(encoding="utf-8")
    assert fire.index("self.s.state = self.state") > fire.index("def fire(")


def test_session_and_store_models_have_no_untyped_dicts():
    from neuroseq_core.domain import session as session_module
    from neuroseq_core.store import base

    models = [
        obj
        for obj in vars(session_module).values()
        if isinstance(obj, type)
        and hasattr(obj, "model_fields")
        and obj.__module__ == session_module.__name__
    ]
    loose = [
        f"{m.__name__}.{name}"
        for m in models
        for name, info in m.model_fields.items()
        if "Any" in str(info.annotation)
    ]
    for cls in (base.OutboxItem, base.Reminder):
        hints = typing.get_type_hints(cls)
        loose += [f"{cls.__name__}.{k}" for k, v in hints.items() if "Any" in str(v)]
    assert len(models) >= 6 and loose == []
