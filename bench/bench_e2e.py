"""End-to-end benchmark: N simulated users at once through the real bot and the loopback fake Bot API.

Three processes per run, so each one's CPU and memory are its own:
- the driver: the tests' fake Bot API (bench/_fakeapi.py, timed) and N users in flight. Each user
  sends /start, then waits for the bot's next message with buttons and presses the first (or a random)
  one, until the result picture arrives; every user waits for the reply before the next tap. When a
  conversation ends a new user starts, until --conversations (at least 400) have run, so a run with
  few users is long enough to measure (40 users' single conversations took 2 s);
- the bot: our real python-telegram-bot Application (bot.polling.serve_polling) with the real
  Service, engine and content, on a store: memory, SQLite (temp file) or PostgreSQL (a throwaway
  cluster, or --postgres URL);
- the fair floor: a bare python-telegram-bot bot (Application + Updater polling the same fake server,
  updates handled concurrently) that makes, per update, the same Bot API calls neuroseq made per
  update in this run (answerCallbackQuery, editMessageText, sendMessage, sendPhoto, spread evenly),
  carrying what neuroseq's calls carried (its texts, parse modes and keyboards, sampled by the fake
  API in the first round; --floor-texts short: short texts and a four-button keyboard), with no store
  and no logic. Its users make as many taps per conversation as ours did on average.
  What neuroseq costs beyond it is neuroseq's own cost. (--floor echo: the old one-call echo bot.)

Measured: updates/s (user updates handled / wall time from the first /start to the last user's
result), delivery→reply p50/p99 (getUpdates hands the update out → the first sendMessage/sendPhoto
for that chat reaches the fake server), press→reply p99 (the user's press is queued → the next
message), peak RSS of the bot process, and RSS growth per stored idle session: RSS after every user
finished, minus RSS when half the conversations had finished, over the second half's conversations
(each is a new user, stored). The first half also pays, once, the high-water mark of the updates in
flight (allocator arenas, pools, caches: about 4 MiB on PostgreSQL), which over 400 sessions read as
10-12 KiB "per session"; the whole-run figure is printed beside it.

Targets (PASS/FAIL): updates/s ≥ 0.8 × the floor's, press→reply p99 ≤ 1.5 × the floor's, RSS growth
≤ 5 KiB per stored session. Each is the median of --rounds rounds (3 by default); a round runs every
store and then the floor, so each ratio compares runs made minutes apart. On a 2-CPU machine the
floor's own cost moves by a third between runs (how many connections httpx's pool ended up holding
is one cause), so a single pair is one noisy sample.

    python bench/bench_e2e.py                         # 100 and 1,000 users; memory, SQLite, PostgreSQL, echo
    python bench/bench_e2e.py --users 10000           # the long one
    python bench/bench_e2e.py --users 100 --stores sqlite --pick random
    python bench/bench_e2e.py --users 1000 --stores --floor echo  # the echo baseline alone (25 taps each)
    python bench/bench_e2e.py --users 40 --conversations 4000     # 40 at once, 4,000 conversations in all
    NEUROSEQ_BENCH_PROFILE=/tmp/bot.prof python bench/bench_e2e.py --users 100 --stores sqlite  # cProfile the bot
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    machine,
    peak_rss_kib,
    percentile,
    pick,
    rss_kib,
    table,
    use_test_helpers,
    verdict,
)

TARGET_RATIO = 0.8
TARGET_P99_RATIO = 1.5
TARGET_IDLE_BYTES = 5 * 1024
WAIT = 120.0  # seconds a user waits for the bot's next message before giving up (at least)
WAIT_PER_USER = 0.05  # ... and more with many users: at ~80 updates/s, 10,000 users wait ~125 s a turn
MAX_TAPS = 200
WARM_USERS = 5
# Conversations per run, at least: when one ends a new user starts, so --users stay in flight. 40 users'
# single 360 updates took 2 s, too short to tell a bot's speed from the start and the tail (the same
# bot measured 0.55-0.90 x the floor in three rounds).
MIN_CONVERSATIONS = 400
PREFIX = "@@"  # lines of the processes' little protocol start with this, then JSON


def say(obj: dict[str, Any]) -> None:
    """One protocol line on stdout."""
    print(PREFIX + json.dumps(obj), flush=True)


def hear(stream: IO[str]) -> dict[str, Any]:
    """The next protocol line from a child (other output passes through to stderr)."""
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("a benchmark process exited early (see its output above)")
        if line.startswith(PREFIX):
            result: dict[str, Any] = json.loads(line[len(PREFIX) :])
            return result
        sys.stderr.write(line)


async def read_command() -> str:
    """The next command line from the parent (stdin), "" at end of input."""
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


def memory_report() -> dict[str, Any]:
    """This process's memory and CPU now (after a full collection)."""
    gc.collect()
    t = os.times()
    return {"rss_kib": rss_kib(), "peak_kib": peak_rss_kib(), "cpu_s": t.user + t.system}


# ---- the driver: fake Bot API and users ------------------------------------------------------


async def settle(api: Any, quiet: float = 0.5, limit: float = 10.0) -> None:
    """Wait until the bot has made no Bot API call (getUpdates aside) for `quiet` seconds."""

    def calls() -> dict[str, int]:
        return {k: v for k, v in api.method_counts().items() if k != "getUpdates"}

    last, deadline = calls(), time.perf_counter() + limit
    while time.perf_counter() < deadline:
        await asyncio.sleep(quiet)
        if (now := calls()) == last:
            return
        last = now


async def run_user(
    api: Any, uid: int, args: argparse.Namespace, rng: random.Random, out: dict[str, Any]
) -> None:
    """One conversation: /start, then press buttons until the result (or `taps` presses for echo)."""
    user = api.user(uid, language_code="en" if uid % 2 else "es")
    inbox = api.inbox(uid)
    user.send_command("start")
    out["updates"] += 1
    taps = 0
    try:
        while True:
            message = await asyncio.wait_for(inbox.get(), max(WAIT, WAIT_PER_USER * args.users[0]))
            if message.is_photo and not args.taps:
                out["conversations"] += 1
                return
            if not message.keyboard:
                continue  # a plain message before the question (a welcome, the result's text)
            if args.taps and taps >= args.taps:
                out["conversations"] += 1
                return
            if taps >= MAX_TAPS:
                out["unfinished"] += 1
                return
            ids = [b["callback_data"].split("|", 1)[-1] for row in message.keyboard for b in row]
            user.press(pick(ids, args.pick, rng), message)
            taps += 1
            out["updates"] += 1
    except TimeoutError:
        out["timed_out"] += 1


async def driver(args: argparse.Namespace) -> int:
    """Serve the fake API; on "go" run the users; report; exit on "stop"."""
    from _fakeapi import TimedFakeBotAPI

    api = TimedFakeBotAPI()
    await api.start()
    say({"base_url": api.base_url, "token": api.token})
    await api.wait_until(lambda: "getUpdates" in api.started, timeout=120)
    say({"polling": True})
    rng = random.Random(args.seed)
    if await read_command() != "warm":
        await api.stop()
        return 1
    # Warm-up conversations (other user ids): first-use costs (templates, fonts, pools) are paid
    # before the memory baseline is taken.
    warm: dict[str, Any] = {"updates": 0, "conversations": 0, "unfinished": 0, "timed_out": 0}
    await asyncio.gather(*(run_user(api, 9_000_000 + i, args, rng, warm) for i in range(WARM_USERS)))
    api.delivery_to_reply.clear()
    api.push_to_reply.clear()
    say({"warm": True})
    if await read_command() != "go":
        await api.stop()
        return 1
    out: dict[str, Any] = {"updates": 0, "conversations": 0, "unfinished": 0, "timed_out": 0}
    await settle(api)
    before = api.method_counts()  # the warm-up's calls are not this run's
    cpu0, start = os.times(), time.perf_counter()
    ids = iter(range(10_000_000, 10_000_000 + args.conversations))

    half, finished = args.conversations // 2, 0

    async def one_at_a_time() -> None:  # one of --users in flight: a new user as each one ends
        nonlocal finished
        for uid in ids:
            await run_user(api, uid, args, rng, out)
            finished += 1
            if finished == half:  # the parent measures the bot's memory: growth is read over the rest
                say({"half": half})

    await asyncio.gather(*(one_at_a_time() for _ in range(min(args.users[0], args.conversations))))
    wall = time.perf_counter() - start
    cpu1 = os.times()
    await settle(api)  # the result's texts follow its picture, after the users stopped reading
    out.update(
        wall=wall,
        driver_cpu_s=(cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        delivered=api.delivered,
        d2r=[percentile(api.delivery_to_reply, 50), percentile(api.delivery_to_reply, 99)],
        p2r=[percentile(api.push_to_reply, 50), percentile(api.push_to_reply, 99)],
        samples=len(api.delivery_to_reply),
        methods={k: v - before.get(k, 0) for k, v in api.method_counts().items()},
        errors=dict(api.errors),
        sent=api.samples,  # what the bot's messages held, for the floor to send the same (--floor bare)
    )
    say(out)
    await read_command()  # "stop" (or the parent went away)
    await api.stop()
    return 0


# ---- the bots -----------------------------------------------------------------------------------


async def serve_until_told(run: Any, stop: asyncio.Event) -> None:
    """Answer "measure" with a memory report and stop on "stop" or end of input."""
    task = asyncio.create_task(run)
    while True:
        command = await read_command()
        if command == "measure":
            say(memory_report())
            continue
        stop.set()
        break
    await task


async def our_bot(args: argparse.Namespace) -> int:
    """The real bot: content, store, Service, serve_polling with production settings."""
    from bot.polling import serve_polling
    from neuroseq_core.content import ContentHolder, load_or_raise
    from neuroseq_core.service import Service
    from neuroseq_core.service.settings import Settings

    content = load_or_raise()
    if args.store == "memory":
        from neuroseq_core.store.memory import MemoryStore

        store: Any = MemoryStore()
    else:
        from neuroseq_core.store.open import open_store

        store = await open_store(args.db)
    settings = Settings(TELEGRAM_BOT_TOKEN=args.token, telegram_api_url=args.base_url)
    stop = asyncio.Event()
    try:
        service = Service(store, ContentHolder(content))
        await serve_until_told(serve_polling(settings, stop, store=store, service=service), stop)
    finally:
        await store.close()
    return 0


async def serve_ptb(application: Any) -> None:
    """Run a plain PTB Application (Updater polling) until told to stop."""
    stop = asyncio.Event()

    async def run() -> None:
        async with application:
            assert application.updater is not None
            await application.updater.start_polling()
            await application.start()
            await stop.wait()
            await application.updater.stop()
            await application.stop()

    await serve_until_told(run(), stop)


async def echo_bot(args: argparse.Namespace) -> int:
    """A bare python-telegram-bot echo bot: Updater polling, one sendMessage per update."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"e|{label}") for label in ("a", "b", "c", "d")]]
    )

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "echo", reply_markup=keyboard)

    builder = ApplicationBuilder().token(args.token).base_url(args.base_url)
    if args.echo_concurrent:
        builder = builder.concurrent_updates(True)
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.add_handler(CallbackQueryHandler(reply))
    await serve_ptb(application)
    return 0


def _picture() -> bytes:
    """A result-sized PNG, drawn once (the floor pays nothing per photo for drawing it)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 560), "white")
    draw = ImageDraw.Draw(image)
    for i in range(3):
        draw.rounded_rectangle((40 + i * 290, 120, 290 + i * 290, 440), radius=24, outline="black", width=6)
        draw.text((70 + i * 290, 150), f"step {i + 1}", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class _Spread:
    """Makes `rate` calls per update on average, as evenly as whole calls allow."""

    def __init__(self, rate: float) -> None:
        self.rate, self.due = rate, 0.0

    def take(self) -> int:
        self.due += self.rate
        whole = int(self.due)
        self.due -= whole
        return whole


def _sent(path: str | None) -> dict[str, list[dict[str, Any]]]:
    """The samples of what neuroseq sent, from the file the orchestrator wrote (none: {})."""
    return json.loads(Path(path).read_text()) if path else {}


class _Payloads:
    """What the floor's messages say: the texts, parse modes and keyboards neuroseq sent in this run.

    The same calls should carry the same bytes: PTB, httpx and the fake server each pay for the size
    of a message and its keyboard. Taken in turn from the samples the driver kept (bench/_fakeapi.py);
    a message that asks for an answer gets a sample that had buttons, one that does not, one without.
    With no samples (--floor-texts short), the old short texts and a four-button keyboard.
    """

    def __init__(self, sent: dict[str, list[dict[str, Any]]], keyboard: Any) -> None:
        from telegram import InlineKeyboardMarkup

        def built(kept: list[dict[str, Any]], buttons: bool) -> list[tuple[str, str | None, Any]]:
            return [
                (k["text"], k["parse_mode"], InlineKeyboardMarkup.de_json(k["reply_markup"], None))
                if buttons
                else (k["text"], k["parse_mode"], None)
                for k in kept
                if bool(k.get("reply_markup")) == buttons and k["text"]
            ]

        messages, edits = sent.get("sendMessage", []), sent.get("editMessageText", [])
        self.pools = {
            ("message", True): built(messages, True) or [("next question", None, keyboard)],
            ("message", False): built(messages, False) or [("a plain message", None, None)],
            ("edit", True): built(edits, True) or [("question {id}, in place", None, keyboard)],
            ("edit", False): built(edits, False) or [("answered {id}", None, None)],
        }
        self.captions = [(k["text"], k["parse_mode"]) for k in sent.get("sendPhoto", [])] or [
            ("a picture", None)
        ]
        self.short = not (messages or edits)
        self.turn: dict[tuple[str, bool], int] = dict.fromkeys(self.pools, 0)
        self.photo_turn = 0
        self.last: dict[int, str] = {}  # chat -> the text last shown there (an edit must change it)

    def _next(self, kind: str, buttons: bool, chat: int) -> tuple[str, str | None, Any]:
        pool = self.pools[(kind, buttons)]
        for _ in range(len(pool)):
            index = self.turn[(kind, buttons)] % len(pool)
            self.turn[(kind, buttons)] = index + 1
            if pool[index][0] != self.last.get(chat) or len(pool) == 1:
                break
        text, mode, markup = pool[index]
        self.last[chat] = text
        return text, mode, markup

    def message(self, chat: int, buttons: bool) -> tuple[str, str | None, Any]:
        """A sendMessage's text, parse mode and keyboard (None without buttons)."""
        return self._next("message", buttons, chat)

    def edit(self, chat: int, update_id: int, buttons: bool) -> tuple[str, str | None, Any]:
        """An editMessageText's, saying something new (Telegram refuses an edit that changes nothing)."""
        text, mode, markup = self._next("edit", buttons, chat)
        return (text.format(id=update_id) if self.short else text), mode, markup

    def caption(self) -> tuple[str, str | None]:
        """A sendPhoto's caption and parse mode."""
        self.photo_turn += 1
        return self.captions[(self.photo_turn - 1) % len(self.captions)]


async def bare_bot(args: argparse.Namespace) -> int:
    """The fair floor: bare PTB, updates concurrent, the same calls per update as neuroseq made."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

    mix = {k.lower(): v for k, v in json.loads(args.mix).items()}
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"b|{label}") for label in ("a", "b", "c", "d")]]
    )
    payloads = _Payloads(_sent(args.payloads), keyboard)
    png = _picture()
    # Per update: every press is answered, and edited as often as neuroseq edited; sends and
    # pictures come as neuroseq's did. The last call carries the next buttons: the last message, or,
    # when none is sent, the edit (the next question shown in place of the one pressed).
    presses = max(mix.get("answercallbackquery", 0.0), 1e-9)
    edits = _Spread(mix.get("editmessagetext", 0.0) / presses)
    photos = _Spread(mix.get("sendphoto", 0.0))
    texts = _Spread(mix.get("sendmessage", 1.0))

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        query = update.callback_query
        answering = asyncio.ensure_future(query.answer()) if query is not None else None
        sends = texts.take()
        edit = query is not None and query.message is not None and edits.take() > 0
        if query is not None and query.message is not None and edit:
            # The next question in place when nothing follows, else the answer's echo.
            text, mode, markup = payloads.edit(chat.id, update.update_id, buttons=not sends)
            await context.bot.edit_message_text(
                text, chat_id=chat.id, message_id=query.message.message_id, parse_mode=mode,
                reply_markup=markup,
            )  # fmt: skip
        for _ in range(photos.take()):
            caption, mode = payloads.caption()
            await context.bot.send_photo(chat.id, png, caption=caption, parse_mode=mode)
        if not sends and not edit:
            sends = 1  # the user needs buttons to go on
        for index in range(sends):
            text, mode, markup = payloads.message(chat.id, buttons=index == sends - 1)
            await context.bot.send_message(chat.id, text, parse_mode=mode, reply_markup=markup)
        if answering is not None:
            await answering

    application = (
        ApplicationBuilder().token(args.token).base_url(args.base_url).concurrent_updates(True).build()
    )
    application.add_handler(TypeHandler(Update, handle))
    await serve_ptb(application)
    return 0


# ---- the orchestrator -------------------------------------------------------------------------


def child(role: str, *extra: str) -> subprocess.Popen[str]:
    """Start this script in another role, talking JSON lines on stdin/stdout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def tell(proc: subprocess.Popen[str], command: str) -> None:
    """Send one command line to a child."""
    assert proc.stdin is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()


def one_run(
    kind: str, users: int, conversations: int, pick_mode: str, seed: int, taps: int = 0, store: str = "",
    db: str = "", echo_concurrent: bool = False, mix: str = "", payloads: str = "",
) -> dict[str, Any]:  # fmt: skip
    """One driver and one bot; returns the driver's figures and the bot's memory."""
    drv = child(
        "driver", "--users", str(users), "--conversations", str(conversations), "--pick", pick_mode,
        "--seed", str(seed), "--taps", str(taps),
    )  # fmt: skip
    bot: subprocess.Popen[str] | None = None
    try:
        assert drv.stdout is not None
        hello = hear(drv.stdout)
        bot_args = ["--base-url", hello["base_url"], "--token", hello["token"]]
        if kind == "echo":
            bot = child("echo", *bot_args, *(["--echo-concurrent"] if echo_concurrent else []))
        elif kind == "bare":
            bot = child("bare", *bot_args, "--mix", mix, *(["--payloads", payloads] if payloads else []))
        else:
            bot = child("bot", *bot_args, "--store", store, "--db", db)
        assert bot.stdout is not None
        hear(drv.stdout)  # the bot is polling
        tell(drv, "warm")
        hear(drv.stdout)
        time.sleep(0.5)  # trailing replies of the warm-up
        tell(bot, "measure")
        before = hear(bot.stdout)
        tell(drv, "go")
        middle = None
        while "updates" not in (result := hear(drv.stdout)):  # {"half": n}, then the figures
            tell(bot, "measure")
            middle = {**hear(bot.stdout), "finished": result["half"]}
        time.sleep(0.5)  # trailing replies of the last updates
        tell(bot, "measure")
        after = hear(bot.stdout)
        tell(bot, "stop")
        bot.wait(60)
        tell(drv, "stop")
        drv.wait(60)
    finally:
        for proc in (bot, drv):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    result.update(
        before=before, after=after, middle=middle or {**before, "finished": 0}, kind=kind, store=store,
        users=users, sessions=conversations,
    )  # fmt: skip
    return result


def growth(r: dict[str, Any]) -> float:
    """RSS growth in bytes per stored session over the run's second half (the middle measurement to
    the end): what each further session costs. The first half also holds the high-water mark of the
    updates in flight, paid once (allocator arenas, pools, caches), which is not per session."""
    sessions = max(r["sessions"] - r["middle"]["finished"], 1)
    return float((r["after"]["rss_kib"] - r["middle"]["rss_kib"]) * 1024 / sessions)


def growth_whole(r: dict[str, Any]) -> float:
    """RSS growth in bytes per stored session over the whole run (fixed high-water included)."""
    return float((r["after"]["rss_kib"] - r["before"]["rss_kib"]) * 1024 / max(r["sessions"], 1))


def fmt_row(name: str, r: dict[str, Any], echo: dict[str, Any] | None) -> list[object]:
    """A table row from one run."""
    ups = r["updates"] / r["wall"]
    ratio = f"{ups / (echo['updates'] / echo['wall']):.2f}" if echo else "-"
    grown = growth(r)
    bot_cpu = r["after"]["cpu_s"] - r["before"]["cpu_s"]
    return [
        name,
        r["users"],
        r["sessions"],
        r["updates"],
        f"{r['updates'] / max(r['sessions'], 1):.1f}",
        f"{r['wall']:.1f}",
        f"{ups:.0f}",
        ratio,
        f"{r['d2r'][0] * 1000:.1f}",
        f"{r['d2r'][1] * 1000:.1f}",
        f"{r['p2r'][1] * 1000:.0f}",
        f"{r['after']['peak_kib'] / 1024:.0f}",
        f"{grown:.0f}",
        f"{100 * bot_cpu / r['wall']:.0f} / {100 * r['driver_cpu_s'] / r['wall']:.0f}",
        f"{1000 * bot_cpu / max(r['updates'], 1):.2f}",
    ]


HEADER = [
    "bot / store", "users", "conversations", "updates", "updates/conv", "wall s", "updates/s", "× floor",
    "d→r p50 ms", "d→r p99 ms", "push→r p99 ms", "peak RSS MiB", "RSS growth B/session (2nd half)", "CPU % bot / driver",
    "bot CPU ms/update",
]  # fmt: skip


async def start_postgres(url: str | None) -> tuple[Any, str | None, str]:
    """(cluster or None, server URL or None, why not)."""
    use_test_helpers()
    import pg

    if url:
        return None, url, ""
    bindir = pg.find_bindir()
    if bindir is None:
        return None, None, pg.NOT_FOUND
    cluster = pg.Cluster(bindir, durable=True)  # the server's default durability, as in production
    try:
        return cluster, await asyncio.to_thread(cluster.start), ""
    except Exception as exc:  # a benchmark reports and goes on with the other stores
        cluster.stop()
        return None, None, f"could not start a throwaway cluster: {exc}"


def conversations(users: int, args: argparse.Namespace) -> int:
    """Conversations in a run of `users` at once: --conversations, or at least MIN_CONVERSATIONS."""
    return int(args.conversations) if args.conversations else max(users, MIN_CONVERSATIONS)


def run_store(
    store: str, users: int, args: argparse.Namespace, server: str | None, pg: Any
) -> dict[str, Any]:
    """One run of our bot on a store (a fresh SQLite file or PostgreSQL database)."""
    with tempfile.TemporaryDirectory() as tmp:
        db, name = "", ""
        if store == "sqlite":
            db = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        elif store == "postgresql":
            assert server is not None
            name = f"neuroseq_bench_{secrets.token_hex(4)}"
            db = pg.create_database(server, name)
        try:
            return one_run(
                "ours", users, conversations(users, args), args.pick, args.seed, store=store, db=db
            )
        finally:
            if name:
                assert server is not None
                pg.drop_database(server, name)


def run_floor(
    users: int, taps: int, mix: dict[str, float], args: argparse.Namespace, number: int, payloads: str = ""
) -> tuple[dict[str, Any], str]:
    """One run of the floor: the bare bot making `mix` calls per update (with the texts and keyboards
    in the `payloads` file, if given), or the echo bot."""
    if args.floor == "bare":
        calls = ", ".join(f"{v:.2f} {k}" for k, v in mix.items())
        texts = "neuroseq's texts and keyboards" if payloads else "short texts"
        print(f"round {number}: running {users} users on the bare bot ({taps} taps each; per update "
              f"{calls}; {texts}) ...", flush=True)  # fmt: skip
        return one_run(
            "bare", users, conversations(users, args), args.pick, args.seed, taps=taps, mix=json.dumps(mix),
            payloads=payloads,
        ), ("bare PTB, same calls and payloads" if payloads else "bare PTB, same calls")  # fmt: skip
    print(f"round {number}: running {users} users on the echo bot ({taps} taps each) ...", flush=True)
    floor = one_run(
        "echo", users, conversations(users, args), args.pick, args.seed, taps=taps,
        echo_concurrent=args.echo_concurrent,
    )  # fmt: skip
    return floor, "echo (PTB, concurrent_updates)" if args.echo_concurrent else "echo (PTB defaults)"


def orchestrate(args: argparse.Namespace) -> int:
    """Every requested run, then the table and the verdicts."""
    use_test_helpers()
    import pg

    print(f"machine: {machine()}", flush=True)
    sizes = args.users or [100, 1000]
    cluster, server, why = (None, None, "not requested")
    if "postgresql" in args.stores:
        cluster, server, why = asyncio.run(start_postgres(args.postgres))
        if server is None:
            print(f"PostgreSQL: skipped ({why})", flush=True)
    scratch = tempfile.mkdtemp(prefix="neuroseq-bench-")
    rows: list[list[object]] = []
    lines: list[str] = []
    grown_total: dict[str, list[tuple[int, float]]] = {}  # store -> (users, RSS growth in bytes)
    ok = True
    try:
        for users in sizes:
            mix: dict[str, float] | None = None
            payloads = ""
            taps = 25
            rounds: list[tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]] = []
            for number in range(1, args.rounds + 1):
                runs: list[tuple[str, dict[str, Any]]] = []
                for store in args.stores:
                    if store == "postgresql" and server is None:
                        continue
                    print(f"round {number}: running {users} users on {store} ...", flush=True)
                    runs.append((f"neuroseq / {store}", run_store(store, users, args, server, pg)))
                    print("row: " + " | ".join(str(c) for c in fmt_row(runs[-1][0], runs[-1][1], None)),
                          flush=True)  # fmt: skip
                if mix is None:  # the floor makes the calls the first round's bots made, every round
                    taps = (
                        round(sum(r["updates"] / r["sessions"] for _, r in runs) / len(runs)) - 1
                        if runs
                        else 25
                    )
                    mix = {m: sum(r["methods"].get(m, 0) / r["updates"] for _, r in runs) / max(len(runs), 1)
                           for m in ("answerCallbackQuery", "editMessageText", "sendMessage", "sendPhoto")}  # fmt: skip
                    if not runs:
                        mix = {"answerCallbackQuery": 1.0, "editMessageText": 1.0, "sendMessage": 1.0}
                    if runs and args.floor_texts == "ours":  # ... and carries what they said
                        payloads = str(Path(scratch) / f"payloads-{users}.json")
                        Path(payloads).write_text(json.dumps(runs[0][1]["sent"]))
                floor, floor_name = run_floor(users, taps, mix, args, number, payloads)
                rows.append(fmt_row(f"{floor_name} (round {number})", floor, None))
                rows += [fmt_row(f"{name} (round {number})", r, floor) for name, r in runs]
                rounds.append((runs, floor))
            for index, name in enumerate(name for name, _ in rounds[0][0]):
                pairs = [(runs[index][1], floor) for runs, floor in rounds]
                ratios = [(r["updates"] / r["wall"]) / (f["updates"] / f["wall"]) for r, f in pairs]
                ratio = statistics.median(ratios)
                each = ", ".join(f"{x:.2f}" for x in ratios)
                good = ratio >= TARGET_RATIO
                ok &= good
                lines.append(f"{'PASS' if good else 'FAIL'}: {name}, {users} users: throughput {ratio:.2f} × "
                             f"{floor_name}, median of {len(ratios)} rounds ({each}) (target ≥ {TARGET_RATIO})")  # fmt: skip
                if args.floor == "bare":
                    p99s = [r["p2r"][1] / max(f["p2r"][1], 1e-9) for r, f in pairs]
                    p99 = statistics.median(p99s)
                    good = p99 <= TARGET_P99_RATIO
                    ok &= good
                    lines.append(f"{'PASS' if good else 'FAIL'}: {name}, {users} users: press→reply p99 "
                                 f"{p99:.2f} × the floor's, median of {len(p99s)} rounds "
                                 f"({', '.join(f'{x:.2f}' for x in p99s)}) (target ≤ {TARGET_P99_RATIO})")  # fmt: skip
                grown = statistics.median(growth(r) for r, _ in pairs)
                whole = statistics.median(growth_whole(r) for r, _ in pairs)
                sessions = pairs[0][0]["sessions"]
                grown_total.setdefault(name, []).append((sessions, whole * sessions))
                good = grown <= TARGET_IDLE_BYTES
                ok &= good
                further = sessions - pairs[0][0]["middle"]["finished"]
                lines.append(f"{'PASS' if good else 'FAIL'}: {name}, {users} users: RSS growth {grown:.0f} B "
                             f"per further idle stored session (the second half of the run, {further} sessions: "
                             f"1 MiB of noise is {1024 * 1024 // max(further, 1)} B), median of the rounds "
                             f"(target ≤ {TARGET_IDLE_BYTES} B)")  # fmt: skip
                lines.append(f"info: {name}, {users} users: RSS growth over the whole run {whole:.0f} B per "
                             "session, the high-water mark of the updates in flight included")  # fmt: skip
                for r, _ in pairs:
                    for problem in ("unfinished", "timed_out"):
                        if r[problem]:
                            lines.append(f"note: {name}, {users} users: {r[problem]} conversations {problem}")
                    if r["errors"]:
                        lines.append(f"note: {name}, {users} users: refused calls {r['errors']}")
                for _, f in pairs:  # a floor whose calls were refused did less than ours: say so
                    if f["errors"]:
                        lines.append(f"note: {floor_name}, {users} users: refused calls {f['errors']}")
                lines.append(f"info: {name}, {users} users: calls (round 1) {pairs[0][0]['methods']}")
            print(table(HEADER, rows), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if cluster is not None:
            cluster.stop()
    for name, points in grown_total.items():
        if len(points) >= 2:
            # RSS growth = fixed (the high-water mark of the updates in flight) + sessions × per-session cost:
            # the slope between the smallest and largest run separates the two.
            (n1, g1), (n2, g2) = min(points), max(points)
            if n2 > n1:
                slope = (g2 - g1) / (n2 - n1)
                lines.append(f"info: {name}: RSS growth slope {slope:.0f} B per extra session between {n1} and "
                             f"{n2} sessions; fixed part ≈ {(g1 - slope * n1) / 1024:.0f} KiB")  # fmt: skip
    print()
    print(table(HEADER, rows))
    print()
    for line in lines:
        if line.startswith(("PASS", "FAIL")):
            verdict(line.startswith("PASS"), line.split(": ", 1)[1])
        else:
            print(line)
    return 0 if ok else 1


def main() -> int:
    """Parse arguments; run as orchestrator, driver or bot."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users", type=int, action="append", help="simulated users (repeat; default 100 and 1000)"
    )
    parser.add_argument(
        "--conversations", type=int, default=0,
        help=f"conversations per run, --users of them at a time (default: --users, at least {MIN_CONVERSATIONS})",
    )  # fmt: skip
    parser.add_argument("--stores", nargs="*", default=["memory", "sqlite", "postgresql"],
                        choices=["memory", "sqlite", "postgresql"])  # fmt: skip
    parser.add_argument(
        "--postgres", metavar="URL", help="an existing PostgreSQL server (a scratch DB is made)"
    )
    parser.add_argument(
        "--pick", choices=("first", "random"), default="first", help="which button users press"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="runs of each bot, alternating with the floor; verdicts use the median of the rounds' ratios",
    )  # fmt: skip
    parser.add_argument(
        "--echo-concurrent",
        action="store_true",
        help="baseline with concurrent_updates(True) instead of PTB's default (one at a time)",
    )
    parser.add_argument(
        "--floor",
        choices=("bare", "echo"),
        default="bare",
        help="what neuroseq is compared with: a bare PTB bot making the same calls (default), or a one-call echo",
    )
    parser.add_argument(
        "--floor-texts",
        choices=("ours", "short"),
        default="ours",
        help="what the bare bot's messages say: the texts and keyboards neuroseq sent in the first round "
        "(default), or short texts with a four-button keyboard (the floor before session 25)",
    )
    # Internal: the child processes.
    parser.add_argument(
        "--role", choices=("main", "driver", "bot", "echo", "bare"), default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--mix", help=argparse.SUPPRESS)
    parser.add_argument("--payloads", help=argparse.SUPPRESS)
    parser.add_argument("--taps", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "driver":
        return asyncio.run(driver(args))
    if args.role == "bot":
        profile = os.environ.get("NEUROSEQ_BENCH_PROFILE")
        if not profile:
            return asyncio.run(our_bot(args))
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(asyncio.run, our_bot(args))
        finally:
            profiler.dump_stats(profile)
    if args.role == "echo":
        return asyncio.run(echo_bot(args))
    if args.role == "bare":
        return asyncio.run(bare_bot(args))
    return orchestrate(args)


if __name__ == "__main__":
    raise SystemExit(main())
