"""Memory per idle stored session, with the in-flight high-water mark measured apart.

One fresh process per (store, N), so figures are not mixed between runs. In it:

1. content is loaded, and 40 real conversations (random buttons) run through `Service.handle` on a
   scratch MemoryStore: their final sessions, profiles and update counts are the templates;
2. *base*: after a full collection, RSS and tracemalloc's traced bytes;
3. *burst*: 100 users at once each send /start and 5 presses through `Service.handle` (each reply
   marked sent, as the Sender does), so the process reaches the high-water mark of 100 updates in
   flight (their 100 stored sessions are counted in this fixed part);
4. *idle*: N more users are stored as completed conversations, through the store's own transaction
   (load_session, save_session with a template's session under the new user id, save_profile); each
   user's processed update ids are recorded too (MemoryStore: mark_seen in the same transaction; SQL:
   bulk-inserted rows, since they live in the database either way);
5. *pruned*: the processed update ids forgotten, as the daily retention job does;
6. *burst again*: another 100 concurrent users, to show the high-water mark does not grow.

Per idle stored session = (idle − burst) / N, after a full collection, as RSS (minus tracemalloc's own
bookkeeping) and as traced Python allocations. The fixed in-flight part = burst − base.

    python bench/bench_memory.py                           # 1,000 and 10,000 on memory, SQLite, PostgreSQL
    python bench/bench_memory.py --sessions 1000 --stores memory sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, pick, rss_kib, table, use_test_helpers, verdict

TARGET_IDLE_BYTES = 5 * 1024
TEMPLATES = 40
BURST_USERS = 100
BURST_STEPS = 6  # updates per burst user: enough for 100 updates in flight at once, several times over
CREATE_CONCURRENCY = 16
MAX_STEPS = 200
PREFIX = "@@"


@dataclass
class Template:
    """A completed conversation's stored data."""

    session: Any  # neuroseq_core.domain.session.Session
    profiles: list[tuple[dt.datetime, Any]]
    updates: int


async def converse(
    service: Any, store: Any, user: str, lang: str, rng: random.Random, ids: Any, steps: int = MAX_STEPS
) -> int:
    """A conversation through Service.handle (to its result, or `steps` updates), replies marked sent."""
    from neuroseq_core.domain.events import Choice, Event, Start

    event: Event | None = Start(language=lang, now=dt.datetime.now(dt.UTC))
    updates = 0
    for _ in range(steps):
        assert event is not None
        items = await service.handle(user, user, event, next(ids))
        updates += 1
        for item in items:
            await store.mark_sent(item.id)
        replies = [item.reply for item in items]
        if any(r.kind == "result" for r in replies):
            return updates
        question = next((r for r in reversed(replies) if r.choices), None)
        if question is None:
            return updates
        index = pick([b.id for b in question.choices], "random", rng)
        event = Choice(
            option_id=question.choices[index].id, token=question.token, now=dt.datetime.now(dt.UTC)
        )
    return updates


def snapshot() -> dict[str, int]:
    """RSS (without tracemalloc's own bookkeeping) and traced bytes, after a full collection."""
    gc.collect()
    rss = rss_kib() * 1024
    return {
        "rss": rss - tracemalloc.get_tracemalloc_memory(),
        "traced": tracemalloc.get_traced_memory()[0],
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The child's work (see the module docstring)."""
    import itertools

    from neuroseq_core.content import ContentHolder, load_or_raise
    from neuroseq_core.service import Service
    from neuroseq_core.store.memory import MemoryStore

    content = load_or_raise()
    holder = ContentHolder(content)
    rng = random.Random(args.seed)
    ids = itertools.count(1)

    scratch = MemoryStore()
    scratch_service = Service(scratch, holder)
    templates: list[Template] = []
    for i in range(TEMPLATES):
        user = f"t{i}"
        updates = await converse(scratch_service, scratch, user, ("en", "es")[i % 2], rng, ids)
        async with scratch.transaction(user) as tx:
            session = await tx.load_session()
        assert session is not None
        templates.append(Template(session, await scratch.profiles(user), updates))
    json_bytes = sum(len(t.session.to_json()) for t in templates) / len(templates)
    del scratch, scratch_service

    if args.store == "memory":
        store: Any = MemoryStore()
    else:
        from neuroseq_core.store.open import open_store

        store = await open_store(args.db)
    service = Service(store, holder)
    await converse(service, store, "warm", "en", rng, ids)  # first-use costs: pools, caches

    tracemalloc.start()
    points = {"base": snapshot()}

    async def burst(tag: str) -> None:
        await asyncio.gather(
            *(
                converse(service, store, f"{tag}{i}", ("en", "es")[i % 2], rng, ids, BURST_STEPS)
                for i in range(BURST_USERS)
            )
        )

    await burst("a")
    points["burst"] = snapshot()

    started = time.perf_counter()
    slots = asyncio.Semaphore(CREATE_CONCURRENCY)
    seen_counts: list[tuple[str, int, int]] = []  # (user, first update id, how many): rows made later

    async def create(i: int) -> None:
        user, template = f"idle{i}", templates[i % len(templates)]
        async with slots, store.transaction(user) as tx:
            await tx.load_session()
            await tx.save_session(template.session.model_copy(update={"user_id": user}))
            for at, profile in template.profiles:
                await tx.save_profile(profile, at)
            if args.store == "memory":
                for _ in range(template.updates):
                    await tx.mark_seen(next(ids))
            else:
                first = next(ids)
                for _ in range(template.updates - 1):
                    next(ids)
                seen_counts.append((user, first, template.updates))

    await asyncio.gather(*(create(i) for i in range(args.n)))
    if seen_counts:
        import sqlalchemy as sa

        from neuroseq_core.store.tables import processed_updates

        # Rows built 200 users at a time: a list of all of them (260,000 dicts at 10,000 users) would
        # leave tens of MB of freed-but-resident heap in the RSS figure.
        now = store.clock()
        async with store.engine.begin() as conn:
            for i in range(0, len(seen_counts), 200):
                rows = [
                    {"update_id": first + k, "user_id": user, "handled_at": now}
                    for user, first, count in seen_counts[i : i + 200]
                    for k in range(count)
                ]
                await conn.execute(sa.insert(processed_updates), rows)
            del rows
    seen_counts.clear()
    create_s = time.perf_counter() - started
    points["idle"] = snapshot()
    # What stays once the daily retention job forgot the processed update ids (MemoryStore keeps them
    # in memory; SQL stores on disk). The burst users' ids go too (~600 ids, a few bytes per session).
    await store.prune_processed(store.clock() + dt.timedelta(seconds=1))
    points["pruned"] = snapshot()

    await burst("b")
    points["burst_again"] = snapshot()
    tracemalloc.stop()
    await store.close()
    return {"points": points, "create_s": create_s, "json_bytes": json_bytes}


# ---- the orchestrator -------------------------------------------------------------------------


def run_child(store: str, n: int, db: str, seed: int) -> dict[str, Any]:
    """One fresh process measuring one (store, N)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--role", "child", "--store", store, "--n", str(n), "--db", db,
         "--seed", str(seed)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=3600,
    )  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX):
            result: dict[str, Any] = json.loads(line[len(PREFIX) :])
            return result
    sys.stderr.write(out.stdout + out.stderr)
    raise RuntimeError(f"the {store} run with {n} sessions failed")


def orchestrate(args: argparse.Namespace) -> int:
    """Every (store, N), then the table and verdicts."""
    use_test_helpers()
    import pg

    print(f"machine: {machine()}", flush=True)
    cluster, server = None, args.postgres
    if "postgresql" in args.stores and not server:
        bindir = pg.find_bindir()
        if bindir is None:
            print(f"PostgreSQL: skipped ({pg.NOT_FOUND})")
        else:
            cluster = pg.Cluster(bindir, durable=True)
            server = cluster.start()
    rows: list[list[object]] = []
    verdicts: list[tuple[bool, str]] = []
    try:
        for store in args.stores:
            if store == "postgresql" and not server:
                continue
            for n in args.sessions or [1000, 10000]:
                with tempfile.TemporaryDirectory() as tmp:
                    db, name = "", ""
                    if store == "sqlite":
                        db = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                    elif store == "postgresql":
                        name = f"neuroseq_mem_{secrets.token_hex(4)}"
                        db = pg.create_database(server, name)
                    print(f"running {n} idle sessions on {store} ...", flush=True)
                    try:
                        r = run_child(store, n, db, args.seed)
                    finally:
                        if name:
                            pg.drop_database(server, name)
                p = r["points"]
                per_rss = (p["idle"]["rss"] - p["burst"]["rss"]) / n
                per_traced = (p["idle"]["traced"] - p["burst"]["traced"]) / n
                fixed_rss = p["burst"]["rss"] - p["base"]["rss"]
                fixed_traced = p["burst"]["traced"] - p["base"]["traced"]
                again_rss = p["burst_again"]["rss"] - p["pruned"]["rss"]
                pruned_traced = (p["pruned"]["traced"] - p["burst"]["traced"]) / n
                rows.append([
                    store, n, f"{r['json_bytes']:.0f}", f"{r['create_s']:.1f}",
                    f"{fixed_rss / 1024:.0f}", f"{fixed_traced / 1024:.0f}",
                    f"{per_rss:.0f}", f"{per_traced:.0f}", f"{pruned_traced:.0f}", f"{again_rss / 1024:.0f}",
                ])  # fmt: skip
                worst = max(per_rss, per_traced)
                verdicts.append((worst <= TARGET_IDLE_BYTES, f"{store}, {n} idle sessions: {per_rss:.0f} B RSS, "
                                 f"{per_traced:.0f} B traced per session (target ≤ {TARGET_IDLE_BYTES} B)"))  # fmt: skip
                print("row: " + " | ".join(str(c) for c in rows[-1]), flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    header = [
        "store", "idle sessions", "session JSON B", "create s", "in-flight high-water RSS KiB",
        "in-flight high-water traced KiB", "RSS B/idle session", "traced B/idle session",
        "traced B/idle session, ids pruned", "2nd burst RSS KiB",
    ]  # fmt: skip
    print()
    print(table(header, rows))
    print()
    for ok, what in verdicts:
        verdict(ok, what)
    return 0 if all(ok for ok, _ in verdicts) else 1


def main() -> int:
    """Parse arguments; run as orchestrator or as one measuring child."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sessions", type=int, action="append", help="idle sessions (repeat; default 1000, 10000)"
    )
    parser.add_argument("--stores", nargs="+", default=["memory", "sqlite", "postgresql"],
                        choices=["memory", "sqlite", "postgresql"])  # fmt: skip
    parser.add_argument(
        "--postgres", metavar="URL", help="an existing PostgreSQL server (a scratch DB is made)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--role", choices=("main", "child"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "child":
        result = asyncio.run(measure(args))
        print(PREFIX + json.dumps(result), flush=True)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    raise SystemExit(main())
