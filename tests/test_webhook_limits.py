"""The webhook server trusts nothing it has not read (a real uvicorn on 127.0.0.1, raw sockets):
a body announced too large is refused on its header, a streamed one is cut off without being
buffered, slow headers and slow bodies are dropped, and calls without the secret are counted in the
log, not written one by one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import pytest

import bot.webhook as webhook
from bot.webhook import MAX_BODY, SECRET_HEADER
from fakebot.harness import webhook_server

SECRET = "limits-Secret_9"


@pytest.fixture
async def server(api, store, service, monkeypatch) -> AsyncIterator[int]:
    monkeypatch.setattr(webhook, "HEADER_TIMEOUT", 1.0)
    monkeypatch.setattr(webhook, "BODY_TIMEOUT", 1.0)
    async with webhook_server(api, store, service, SECRET) as port:
        yield port


def head(length: str | None = None, chunked: bool = False) -> bytes:
    lines = [
        "POST /hook HTTP/1.1",
        "Host: bot",
        f"{SECRET_HEADER}: {SECRET}",
        "Content-Type: application/json",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_of(reader: asyncio.StreamReader, timeout: float = 3.0) -> int | None:  # noqa: ASYNC109
    """The status code of the answer, or None when the server just closed the connection."""
    line = await asyncio.wait_for(reader.readline(), timeout)
    return int(line.split()[1]) if line else None


async def test_a_body_announced_too_large_is_refused_on_its_header(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(head(length=str(100_000_000)))  # and not one byte of the body
    await writer.drain()
    assert await status_of(reader) == 413
    writer.close()


async def test_a_streamed_body_is_cut_off_as_soon_as_it_is_too_large(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(head(chunked=True))
    chunk = b"x" * 65_536
    sent = 0
    answer: asyncio.Task[int | None] = asyncio.ensure_future(status_of(reader, timeout=30))
    with contextlib.suppress(ConnectionError):
        while not answer.done() and sent < 50 * MAX_BODY:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0)
    assert await answer == 413
    # Refused while the body streamed in, after about MAX_BODY, not once 50 MB had been buffered.
    assert sent < 4 * MAX_BODY, sent
    writer.close()


async def test_a_slow_body_is_dropped(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(head(length="1000") + b'{"update_id": 1')  # ... and the rest never comes
    await writer.drain()
    started = asyncio.get_running_loop().time()
    assert await status_of(reader, timeout=5) in (408, None)
    assert asyncio.get_running_loop().time() - started < 3
    writer.close()


async def test_slow_headers_are_dropped(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: bot\r\n")  # the head is never finished
    await writer.drain()
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    assert asyncio.get_running_loop().time() - started < 3
    writer.close()
    # And a client that connects and says nothing at all.
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_good_update_still_goes_through(server, api):
    body = json.dumps(api.update_json("message", api.user(640).message_json(text="hello"))).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(head(length=str(len(body))) + body)
    await writer.drain()
    assert await status_of(reader) == 200
    writer.close()
    assert [m.text for m in api.chat_messages(640)] == ["You said: hello"]


async def test_calls_without_the_secret_are_counted_not_logged_one_by_one(server, caplog):
    caplog.set_level(logging.WARNING, logger="bot.webhook")
    for _ in range(50):
        reader, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.write(b"POST /hook HTTP/1.1\r\nHost: bot\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        assert await status_of(reader) == 403
        writer.close()
    warned = [r for r in caplog.records if "without the right secret" in r.getMessage()]
    assert len(warned) == 1 and warned[0].count == 1  # the first at once; the rest wait for the next minute
