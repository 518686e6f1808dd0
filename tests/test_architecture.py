"""The core stays pure: it never imports the Telegram library or the adapter, and reads no clock of its own."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("telegram", "bot")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_telegram_or_bot():
    offenders = {}
    for path in sorted((ROOT / "neuroseq_core").rglob("*.py")):
        if path.name == "cli.py":
            continue  # the command line starts the adapters, lazily, inside `run` and `webhook`
        bad = _imports(path) & set(FORBIDDEN)
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_cli_imports_adapters_only_lazily():
    tree = ast.parse((ROOT / "neuroseq_core" / "cli.py").read_text(encoding="utf-8"))
    top = {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    top |= {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    assert not top & set(FORBIDDEN)


def test_engine_module_has_no_io_imports():
    bad = _imports(ROOT / "neuroseq_core" / "engine.py") & {
        "socket",
        "asyncio",
        "sqlalchemy",
        "httpx",
        "time",
        "os",
    }
    assert bad == set()


# Where the clock may be read: the one clock (clock.py), the edges that feed events in (console,
# service, command line), and content loading (a helpline's staleness, the model cache). Nowhere
# else in neuroseq_core: the engine and the domain take `now` from the event.
CLOCK_EDGES = {
    "clock.py",
    "cli.py",
    "console.py",
    "service.py",
    "resources.py",
    "safety/screen.py",
}
_CLOCK = re.compile(r"\b(?:datetime\.now|date\.today|time\.time|time\.monotonic|utcnow)\(")


def test_only_the_edges_read_the_clock():
    readers = {
        str(path.relative_to(ROOT / "neuroseq_core"))
        for path in (ROOT / "neuroseq_core").rglob("*.py")
        if _CLOCK.search(path.read_text(encoding="utf-8"))
    }
    assert readers <= CLOCK_EDGES, readers - CLOCK_EDGES
    assert "engine.py" not in readers and "followups.py" not in readers


def test_every_event_carries_the_clock():
    from neuroseq_core.events import Command

    with pytest.raises(ValueError):
        Command(name="start")  # type: ignore[call-arg]
