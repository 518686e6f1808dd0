"""A PostgreSQL for tests and benchmarks: NEUROSEQ_TEST_POSTGRES_URL, or a throwaway local cluster.

The `postgres_url` fixture gives a fresh database (one per test session) as a postgresql+asyncpg:// URL.
It skips, with the reason, when there is neither a URL nor PostgreSQL server binaries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url

ENV = "NEUROSEQ_TEST_POSTGRES_URL"
NOT_FOUND = "PostgreSQL server binaries not found; install postgresql (Debian: apt-get install postgresql)"

T = TypeVar("T")


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster in a temp folder, on a loopback port; trust auth, user postgres."""

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = (
            durable  # False: fsync off, for fast tests; True: the server's defaults, for benchmarks
        )
        self.root = Path(tempfile.mkdtemp(prefix="neuroseq-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root: run the cluster as the postgres system user then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run the cluster"
                ) from exc
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        """The server's maintenance database as a postgresql+asyncpg URL."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """initdb and start; returns the URL."""
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r}\n{log}") from exc
        return self.url

    def stop(self) -> None:
        """Stop the server (fast) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running in this thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _plain_dsn(url: str, database: str | None = None) -> str:
    sa_url = make_url(url).set(drivername="postgresql")
    if database is not None:
        sa_url = sa_url.set(database=database)
    return sa_url.render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(_plain_dsn(url), timeout=30)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str, name: str) -> str:
    """Create a database on the server; returns its postgresql+asyncpg URL."""
    run_async(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)


def drop_database(server_url: str, name: str) -> None:
    """Drop a database, closing any connection left to it."""
    run_async(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (postgresql+asyncpg URL)."""
    cluster: Cluster | None = None
    server = os.environ.get(ENV, "").strip()
    if not server:
        bindir = find_bindir()
        if bindir is None:
            pytest.skip(NOT_FOUND)
        cluster = Cluster(bindir)
        try:
            server = cluster.start()
        except BaseException:
            cluster.stop()
            raise
    name = f"neuroseq_test_{secrets.token_hex(4)}"
    try:
        yield create_database(server, name)
    finally:
        try:
            drop_database(server, name)
        finally:
            if cluster is not None:
                cluster.stop()
