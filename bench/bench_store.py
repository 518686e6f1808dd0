"""Storage benchmark: one update in the service's shape, on SQLite and PostgreSQL.

Each operation is one transaction as neuroseq_core.service runs it: seen? -> load_session -> (engine step:
here, one more answer) -> save_session -> mark_seen -> add_outbox -> commit. Prints p50/p99 latency,
operations per second, and bytes per stored session.

    python bench/bench_store.py                      # SQLite, and a throwaway PostgreSQL if installed
    python bench/bench_store.py --postgres URL       # an existing server (a scratch database is made)
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway-cluster helper lives with the tests
sys.path.insert(0, str(ROOT))  # the project from this tree, installed or not

import pg  # noqa: E402
from neuroseq_core.domain.events import Button, Reply  # noqa: E402
from neuroseq_core.domain.session import LevelResult, Profile, Session  # noqa: E402
from neuroseq_core.store.open import open_store  # noqa: E402
from neuroseq_core.store.sql import SqlStore  # noqa: E402

LEVELS = ("sensory", "self_regulation", "relational", "cognitive")


def realistic_session(user_id: str, answers: int) -> Session:
    """A session near the end of a questionnaire: answers, history, a profile, suggestions."""
    return Session(
        user_id=user_id,
        language="en",
        state="question",
        token="t42",
        seq=answers + 6,
        consent=True,
        role="caregiver",
        region="gb",
        age_band="6-11",
        nickname="Sam",
        questionnaire="caregiver_6_11",
        answers={f"{LEVELS[i % 4]}_{i:02d}": "sometimes" for i in range(answers)},
        history=[f"{LEVELS[i % 4]}_{i:02d}" for i in range(answers)],
        question_id=f"{LEVELS[answers % 4]}_{answers:02d}",
        profile=Profile(
            levels=[
                LevelResult(level=lv, band="some_support", answered=8, mean_concern=1.25) for lv in LEVELS
            ],
            start_level="sensory",
            start_step="regulate",
            start_on_track=False,
            referrals=["sleep_pattern"],
        ),
        suggested=["rocking_rhythm", "wall_push", "drumming_names", "blow_bubbles", "walk_and_talk"],
    )


REPLY = Reply(
    text="How often does <b>Sam</b> settle after a change of plan?",
    choices=[Button(id=o, label=o.title()) for o in ("rarely", "sometimes", "often", "almost_always")],
    token="t43",
    kind="question",
)


@dataclass
class Result:
    backend: str
    mode: str
    ops: int
    p50_ms: float
    p99_ms: float
    ops_per_s: float
    json_bytes: float = 0.0  # mean length of a stored session's JSON
    stored_bytes: float = 0.0  # sessions table + its index on disk, per session


async def one_update(store: SqlStore, user_id: str, update_id: int, lat: list[float]) -> None:
    """One transaction of the service's shape; appends its latency in seconds."""
    start = time.perf_counter()
    async with store.transaction(user_id) as tx:
        if await tx.seen(update_id):
            raise AssertionError("update seen twice")
        session = await tx.load_session() or realistic_session(user_id, 0)
        session.answers[f"extra_{update_id % 64}"] = "often"
        session.seq += 1
        await tx.save_session(session)
        await tx.mark_seen(update_id)
        await tx.add_outbox(user_id, [REPLY])
    lat.append(time.perf_counter() - start)


def summarise(backend: str, mode: str, lat: list[float], wall: float) -> Result:
    """Percentiles from latencies."""
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return Result(backend, mode, len(lat), q[49] * 1000, q[98] * 1000, len(lat) / wall)


async def run_backend(
    backend: str, url: str, users: int, updates: int, tasks: int, answers: int
) -> list[Result]:
    """Populate, then run updates sequentially and with concurrent users."""
    store = await open_store(url)
    assert isinstance(store, SqlStore)
    ids = [str(1_000_000_000 + i) for i in range(users)]
    try:
        for user_id in ids:  # populate
            async with store.transaction(user_id) as tx:
                await tx.save_session(realistic_session(user_id, answers))
        update_id = 1
        results = []
        for _ in range(min(50, updates)):  # warm-up: pools, statement caches
            await one_update(store, ids[update_id % users], update_id, [])
            update_id += 1

        lat: list[float] = []
        start = time.perf_counter()
        for i in range(updates):
            await one_update(store, ids[i % users], update_id, lat)
            update_id += 1
        results.append(summarise(backend, "sequential", lat, time.perf_counter() - start))

        lat = []
        queue = list(range(updates))
        first_id = update_id

        async def worker() -> None:
            while queue:
                i = queue.pop()
                await one_update(store, ids[i % users], first_id + i, lat)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        results.append(summarise(backend, f"{tasks} concurrent users", lat, time.perf_counter() - start))

        async with store.engine.connect() as conn:
            json_bytes = (await conn.execute(sa.text("SELECT AVG(LENGTH(data)) FROM sessions"))).scalar()
            if store.dialect == "postgresql":
                disk = (await conn.execute(sa.text("SELECT pg_total_relation_size('sessions')"))).scalar()
            else:  # the sessions table and its primary-key index, from SQLite's dbstat
                disk = (
                    await conn.exec_driver_sql(
                        "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('sessions', 'sqlite_autoindex_sessions_1')"
                    )
                ).scalar()
        for r in results:
            r.json_bytes, r.stored_bytes = float(json_bytes or 0), int(disk or 0) / users
        return results
    finally:
        await store.close()


def table(results: list[Result]) -> str:
    """A Markdown table of the results."""
    lines = [
        "| backend | mode | updates | p50 ms | p99 ms | updates/s | session JSON B | stored B/session |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.mode} | {r.ops} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.ops_per_s:.0f} "
            f"| {r.json_bytes:.0f} | {r.stored_bytes:.0f} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    """Run the benchmark on each available backend."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        results += await run_backend("sqlite", url, args.users, args.updates, args.tasks, args.answers)

    cluster: pg.Cluster | None = None
    server = args.postgres
    if server is None:
        bindir = pg.find_bindir()
        if bindir is None:
            print("PostgreSQL: skipped (server binaries not found; install postgresql)", file=sys.stderr)
        else:
            cluster = pg.Cluster(bindir, durable=True)  # the server's default durability: fsync on
            server = cluster.start()
    if server is not None:
        name = f"neuroseq_bench_{secrets.token_hex(4)}"
        try:
            db_url = await asyncio.to_thread(pg.create_database, server, name)
            results += await run_backend(
                "postgresql", db_url, args.users, args.updates, args.tasks, args.answers
            )
        finally:
            await asyncio.to_thread(pg.drop_database, server, name)
            if cluster is not None:
                cluster.stop()
    print(table(results))
    return 0


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="an existing PostgreSQL server (a scratch DB is made)"
    )
    parser.add_argument("--users", type=int, default=500, help="users with a stored session")
    parser.add_argument("--updates", type=int, default=2000, help="updates per mode")
    parser.add_argument("--tasks", type=int, default=16, help="concurrent users in the concurrent mode")
    parser.add_argument("--answers", type=int, default=30, help="answers in each stored session")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
