"""Every start-up mistake an operator can make is one clear line naming the setting, and exit 2: no
traceback, no password, nothing half-started. And /healthz says 503 while the database is down."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import httpx
import pytest

from bot.runtime import running
from bot.webhook import build_webhook_app
from cli import run_cli
from fakebot import FakeBotAPI
from fakebot.harness import settings_for
from neuroseq_core.store.memory import MemoryStore

TOKEN = "123456789:AAHfakefakefakefakefakefakefakefake12"
ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once it is closed


def one_line_exit_2(result, *must_name: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1, lines
    for name in must_name:
        assert name in lines[0], lines[0]
    return lines[0]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "NEUROSEQ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "NEUROSEQ_TELEGRAM_API_URL": f"http://127.0.0.1:{closed_port()}/bot",
        **extra,
    }


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "not a url at all", "sqlite+aiosqlite:///:memory:"],
)
def test_a_malformed_database_url(tmp_path, url):
    result = run_cli(["run"], env=base_env(tmp_path, NEUROSEQ_DATABASE_URL=url), timeout=60)
    one_line_exit_2(result, "NEUROSEQ_DATABASE_URL")


def test_an_unreachable_postgresql_never_shows_its_password(tmp_path):
    url = f"postgresql+asyncpg://neuroseq:Sup3rSecretPw@127.0.0.1:{closed_port()}/neuroseq"
    result = run_cli(["run"], env=base_env(tmp_path, NEUROSEQ_DATABASE_URL=url), timeout=60)
    line = one_line_exit_2(result, "NEUROSEQ_DATABASE_URL", "127.0.0.1")
    assert "Sup3rSecretPw" not in result.stderr, line


def test_an_unreachable_bot_api(tmp_path):
    result = run_cli(["run"], env=base_env(tmp_path), timeout=90)
    one_line_exit_2(result, "Telegram Bot API", "NEUROSEQ_TELEGRAM_API_URL")


def test_a_webhook_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = base_env(
            tmp_path,
            NEUROSEQ_WEBHOOK_URL="https://bot.example.org/hook",
            NEUROSEQ_WEBHOOK_SECRET="a-Secret_1",
            NEUROSEQ_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
        result = run_cli(["webhook"], env=env, timeout=60)
    one_line_exit_2(result, "NEUROSEQ_WEBHOOK_LISTEN", str(port))


def test_broken_content(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "sequence.yaml").write_text("steps: [this is: not: yaml\n", encoding="utf-8")
    result = run_cli(["run"], env=base_env(tmp_path, NEUROSEQ_CONTENT_DIR=str(content)), timeout=60)
    one_line_exit_2(result, "NEUROSEQ_CONTENT_DIR", "sequence.yaml")


class DownStore(MemoryStore):
    """A store whose database has gone away."""

    down = False

    async def ping(self) -> None:
        if self.down:
            raise ConnectionRefusedError("database down")


async def test_healthz_is_503_while_the_database_is_down(content):
    from neuroseq_core.content import ContentHolder
    from neuroseq_core.service import Service

    store = DownStore()
    async with FakeBotAPI() as api:
        settings = settings_for(api, webhook_url="https://bot.example.org/hook", webhook_secret="a-Secret_1")
        service = Service(store, ContentHolder(content))
        async with running(settings, store=store, service=service, http_timeout=5.0) as rt:
            app = build_webhook_app(settings, rt.application)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                assert (await c.get("/healthz")).status_code == 200
                store.down = True
                down = await c.get("/healthz")
                assert down.status_code == 503 and down.json() == {"ok": False, "database": "unreachable"}
                store.down = False
                assert (await c.get("/healthz")).status_code == 200
