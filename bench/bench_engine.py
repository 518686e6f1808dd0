"""Engine benchmark: neuroseq_core.engine.step, and Service.handle on MemoryStore and SQLite.

Full conversations in one process: /start, then press the first (or a random) button of the latest
question until a reply of kind "result" arrives — no question count is assumed. Content is loaded
once. Reports steps per second and p50/p99 per step; the target is p99 ≤ 20 ms per handled update
(no network), for the engine alone and for the service (one transaction per update).

    python bench/bench_engine.py                       # 300 engine, 100 memory, 40 SQLite conversations
    python bench/bench_engine.py --pick random --conversations 1000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, percentile, pick, table, verdict

from neuroseq_core.content import Content, ContentHolder, load_or_raise
from neuroseq_core.domain.events import Choice, Event, Reply, Start
from neuroseq_core.engine import new_session, step
from neuroseq_core.service import Service
from neuroseq_core.store.memory import MemoryStore

TARGET_P99_MS = 20.0
MAX_STEPS = 200  # a conversation that has not reached a result by then is counted as unfinished
LANGUAGES = ("en", "es")


@dataclass
class Run:
    """Latencies of one mode, in seconds, and its wall time."""

    name: str
    latencies: list[float] = field(default_factory=list)
    conversations: int = 0
    unfinished: int = 0
    wall: float = 0.0

    def row(self) -> list[object]:
        """A table row: mode, conversations, steps, steps/s, p50, p99, max (ms)."""
        lat = self.latencies
        return [
            self.name,
            self.conversations,
            len(lat),
            f"{len(lat) / self.wall:.0f}" if self.wall else "-",
            f"{median(lat) * 1000:.2f}",
            f"{percentile(lat, 99) * 1000:.2f}",
            f"{max(lat, default=0) * 1000:.2f}",
        ]


def next_event(replies: list[Reply], mode: str, rng: random.Random) -> Event | None:
    """The press a user makes on the latest question among these replies (None: no buttons)."""
    question = next((r for r in reversed(replies) if r.choices), None)
    if question is None:
        return None
    index = pick([b.id for b in question.choices], mode, rng)
    return Choice(option_id=question.choices[index].id, token=question.token, now=dt.datetime.now(dt.UTC))


async def converse(
    handle: Callable[[Event], Awaitable[list[Reply]]], run: Run, mode: str, rng: random.Random, lang: str
) -> None:
    """One conversation from /start to the first result, timing each handled event."""
    event: Event | None = Start(language=lang, now=dt.datetime.now(dt.UTC))
    for _ in range(MAX_STEPS):
        assert event is not None
        start = time.perf_counter()
        replies = await handle(event)
        run.latencies.append(time.perf_counter() - start)
        if any(r.kind == "result" for r in replies):
            run.conversations += 1
            return
        event = next_event(replies, mode, rng)
        if event is None:
            break
    run.conversations += 1
    run.unfinished += 1


async def engine_run(content: Content, n: int, mode: str, seed: int) -> Run:
    """engine.step only: the session stays a Python object between steps."""
    run, rng = Run("engine.step"), random.Random(seed)
    started = time.perf_counter()
    for i in range(n):
        session = new_session(f"e{i}", content)

        async def handle(event: Event) -> list[Reply]:
            nonlocal session
            session, replies, _effects = step(session, event, content)
            return replies

        await converse(handle, run, mode, rng, LANGUAGES[i % 2])
    run.wall = time.perf_counter() - started
    return run


async def service_run(name: str, service: Service, n: int, mode: str, seed: int, first_update: int) -> Run:
    """Service.handle: load, step, save, mark seen, queue replies, commit — one transaction per update."""
    run, rng = Run(name), random.Random(seed)
    update_id = first_update
    started = time.perf_counter()
    for i in range(n):
        user = str(5_000_000 + i)

        async def handle(event: Event, user: str = user) -> list[Reply]:
            nonlocal update_id
            update_id += 1
            return [item.reply for item in await service.handle(user, user, event, update_id)]

        await converse(handle, run, mode, rng, LANGUAGES[i % 2])
    run.wall = time.perf_counter() - started
    return run


async def main_async(args: argparse.Namespace) -> int:
    """Load content once, warm up, then run each mode and print the table and verdicts."""
    print(f"machine: {machine()}")
    started = time.perf_counter()
    content = load_or_raise()
    print(f"content loaded in {time.perf_counter() - started:.2f} s; pick = {args.pick}")
    holder = ContentHolder(content)
    await engine_run(content, 3, args.pick, args.seed)  # warm-up: template and regex caches

    runs = [await engine_run(content, args.conversations, args.pick, args.seed)]
    runs.append(await service_run("Service.handle, MemoryStore", Service(MemoryStore(), holder),
                                  args.memory_conversations, args.pick, args.seed, 0))  # fmt: skip
    if args.sqlite_conversations:
        from neuroseq_core.store.open import open_store

        with tempfile.TemporaryDirectory() as tmp:
            store = await open_store(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            try:
                service = Service(store, holder)
                await service_run("warm-up", service, 1, args.pick, args.seed, 10_000_000)
                runs.append(await service_run("Service.handle, SQLite", service, args.sqlite_conversations,
                                              args.pick, args.seed, 0))  # fmt: skip
            finally:
                await store.close()

    print()
    print(table(["mode", "conversations", "steps", "steps/s", "p50 ms", "p99 ms", "max ms"],
                [r.row() for r in runs]))  # fmt: skip
    print()
    ok = True
    for r in runs:
        if r.unfinished:
            print(f"note: {r.unfinished} of {r.conversations} {r.name} conversations reached no result")
        p99 = percentile(r.latencies, 99) * 1000
        ok &= p99 <= TARGET_P99_MS
        verdict(
            p99 <= TARGET_P99_MS, f"{r.name}: p99 {p99:.2f} ms per update (target ≤ {TARGET_P99_MS:g} ms)"
        )
    return 0 if ok else 1


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=300, help="engine-only conversations")
    parser.add_argument("--memory-conversations", type=int, default=100, help="Service on MemoryStore")
    parser.add_argument("--sqlite-conversations", type=int, default=40, help="Service on SQLite (0: skip)")
    parser.add_argument("--pick", choices=("first", "random"), default="random", help="which button to press")
    parser.add_argument("--seed", type=int, default=8)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
