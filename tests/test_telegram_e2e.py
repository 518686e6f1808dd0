"""Whole conversations through the real Application, the real engine and content, and the fake Bot API.

Data-driven: the test presses whatever buttons the content offers (by option id, read from the
callback_data), so wording changes in content do not break it. Every message the bot sends passes
the fake server's checks (HTML validity, lengths, keyboard shape), so a 400 anywhere fails here.
"""

from __future__ import annotations

import html

import pytest

from bot.app import COMMANDS
from fakebot import BotMessage, FakeBotAPI, FakeUser
from fakebot.harness import outbox_drained, polling_bot
from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.store.memory import MemoryStore

pytest.importorskip("neuroseq_core.engine")

from neuroseq_core.service import Service  # noqa: E402

MAX_STEPS = 80
END_OPTIONS = {"more", "restart"}  # the "what next" menu after a result


def option_ids(message: BotMessage) -> list[str]:
    return [b["callback_data"].split("|", 1)[1] for row in message.keyboard for b in row]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request, tmp_path):
    """The same conversations on every store: in memory, SQLite, and a real PostgreSQL."""
    if request.param == "memory":
        yield MemoryStore()
        return
    from neuroseq_core.store.open import open_store

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = await open_store(url)
    if request.param == "postgres":
        # The server is shared by the test session; each fake Bot API numbers updates from the start.
        import sqlalchemy as sa

        async with s.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "TRUNCATE users, sessions, profiles, processed_updates, outbox, reminders, counters, pace CASCADE"
                )
            )
    yield s
    await s.close()


@pytest.fixture
def service(store, content: Content):
    return Service(store, ContentHolder(content))


async def converse(
    api: FakeBotAPI, user: FakeUser, choose, nickname: str | None = None, deeper: bool = False
) -> dict:
    """Run /start to the first result (and, with `deeper`, through a closer look to the next one);
    choose(ids, step) picks an option id for each question."""
    user.send_command("start")
    pressed: list[tuple[BotMessage, str]] = []
    photos: list[BotMessage] = []
    question = await user.wait_for_keyboard(timeout=10)
    for step in range(MAX_STEPS):
        photos += [m for m in user.messages if m.is_photo and m not in photos]
        ids = option_ids(question)
        if photos and END_OPTIONS <= set(ids):
            if not deeper or "deeper" not in ids:
                break
            deeper = False
            user.press(ids.index("deeper"), question)  # a closer look: time, place, nickname, more questions
            pressed.append((question, question.labels[ids.index("deeper")]))
        elif ids == ["skip"] and nickname is not None:
            user.send_text(nickname)  # the optional free-text question: type instead of skipping
        else:
            chosen = choose(ids, step)
            label = question.labels[ids.index(chosen)]
            user.press(ids.index(chosen), question)
            pressed.append((question, label))
        question = await user.wait_for_keyboard(timeout=10)
    else:
        raise AssertionError(f"no result after {MAX_STEPS} questions")
    return {"pressed": pressed, "photos": photos}


def prefer(*wanted: str):
    def choose(ids: list[str], step: int) -> str:
        return next((i for i in ids if i in wanted), ids[0])

    return choose


def varied(*wanted: str):
    def choose(ids: list[str], step: int) -> str:
        preferred = [i for i in ids if i in wanted]
        if preferred:
            return preferred[0]
        return ids[(step * 3 + 1) % len(ids)]

    return choose


async def check_conversation(api: FakeBotAPI, store, user: FakeUser, result: dict) -> None:
    # Every call the bot made was accepted: valid HTML, within every limit.
    bad = [(c.method, c.status) for c in api.calls if not c.ok and c.method != "getUpdates"]
    assert bad == []
    # A result came with the sequence picture, captioned in words.
    assert result["photos"], "no picture sent"
    for photo in result["photos"]:
        assert photo.photo.startswith(b"\x89PNG") and photo.text.strip()
    # Each answered question shows the choice: in the questionnaire its message became the next
    # question, which begins with the answer; elsewhere it lost its buttons and ends with the answer.
    echoes = []
    for question, label in result["pressed"]:
        if question.superseded:
            echoes.append(f"✓ {html.escape(label, quote=False)}")
        else:
            assert question.keyboard == [], question.text
            assert question.text.endswith(f"✓ {label}")
    # A press in the questionnaire costs one edit, not an edit and a new message: the edit that
    # asks the next question begins with the answer just given.
    assert len(echoes) >= 5
    edits = [c for c in api.calls_to("editMessageText") if c.params.get("reply_markup")]
    assert [str(c.params["text"]).split("\n\n", 1)[0] for c in edits] == echoes
    presses = len(result["pressed"])
    # Every press is answered (the spinner stops); the answer runs beside the edit, so it may land last.
    await api.wait_until(lambda: len(api.answered_callbacks) >= presses, timeout=5)
    # The first idea comes within 8 taps of /start (and the first picture with it).
    first_photo = min(p.message_id for p in result["photos"])
    assert sum(1 for question, _ in result["pressed"] if question.message_id < first_photo) <= 8
    ideas = [m for m in user.messages if "Why this one" in m.text]
    assert ideas and ideas[0].message_id > first_photo
    assert await outbox_drained(store)
    assert await store.profiles(str(user.id)), "the completed profile was not kept"


async def test_caregiver_pressing_the_first_option_everywhere(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(1001)
        result = await converse(api, user, prefer("agree", "parent"))
        await check_conversation(api, store, user, result)


async def test_educator_on_a_varied_path_with_a_typed_nickname(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(1002, language_code="en")
        nickname = "Jo&Sam <b>"  # must come back escaped, or Telegram would refuse the message
        result = await converse(api, user, varied("agree", "student"), nickname=nickname, deeper=True)
        await check_conversation(api, store, user, result)
        everything = "\n".join(m.text for m in user.messages)
        assert nickname in everything  # shown as typed: escaped in HTML, never read as markup


async def test_spanish_speaker_and_commands(api, store, service, content: Content):
    async with polling_bot(api, store, service):
        user = api.user(1003, language_code="es")
        user.send_command("start")
        consent = await user.wait_for_keyboard(timeout=10)
        # Telegram said Spanish: the disclaimer and its buttons are in Spanish.
        assert consent.labels[0] == content.messages["es"]["consent.agree"]
        assert "¿Empezamos?" in consent.text
        replies = {}
        for name in ("help", "privacy", "helplines"):
            user.send_command(name)
            replies[name] = await user.wait_for_message(timeout=10)
        assert "Líneas de ayuda" in replies["helplines"].text and "Helplines" not in replies["helplines"].text
        assert "/delete" in replies["privacy"].text and "never your messages" not in replies["privacy"].text
        assert all(c.ok for c in api.calls_to("sendMessage"))
    # The menu carries content's descriptions, in each language content has.
    menus = {c.params.get("language_code"): c.params["commands"] for c in api.calls_to("setMyCommands")}
    assert set(menus) == {None}  # languages come only from content the runtime loads itself
    names = [c["command"] for c in menus[None]]
    assert names == [n for n in COMMANDS if f"commands.{n}" in content.messages[content.default_language]]


async def test_group_notice_comes_from_content(api, store, service, content: Content):
    async with polling_bot(api, store, service):
        user = api.user(1004)
        user.add_bot_to_group(-42)
        await api.wait_until(lambda: bool(api.chat_messages(-42)), timeout=10)
        [notice] = api.chat_messages(-42)
        assert notice.text.strip() and notice.source_html == service.notice("group.private_only", "en").text
        assert html.unescape(notice.source_html).strip()


async def test_safety_tiers_through_telegram(api, store, service):
    """What a person in Telegram receives: numbers before a country, the gentle question, the help."""
    async with polling_bot(api, store, service):
        user = api.user(1301)
        user.send_command("start")
        await user.wait_for_keyboard(timeout=10)
        # Danger before any country is chosen: numbers at once, each country one tap away.
        user.send_text("I want to kill myself tonight")
        after = await user.wait_for_message(lambda m: "safety.continue" in option_ids(m), timeout=10)
        help_text = html.unescape(user.messages[-2].text)
        for number in ("911", "999", "000", "112"):
            assert number in help_text
        assert "safety.region.uk" in option_ids(after)
        user.press(option_ids(after).index("safety.region.uk"), after)
        uk = await user.wait_for_message(lambda m: "Samaritans" in m.text, timeout=10)
        assert "116 123" in uk.text and "999" in uk.text
        # A possible danger (another person: after a danger reply the same words would be read in
        # its context): one gentle question, two buttons; "no" goes back to where we were.
        user = api.user(1302)
        user.send_command("start")
        consent = await user.wait_for_keyboard(timeout=10)
        user.press(0, consent)
        role = await user.wait_for_keyboard(timeout=10)
        user.press(0, role)
        age = await user.wait_for_keyboard(timeout=10)
        user.send_text("7")  # typed: an age, not the 7th button
        await user.wait_for_message(lambda m: "7 years old" in m.text, timeout=10)
        question = await user.wait_for_keyboard(timeout=10)
        assert "1 of 5" in question.text and "How old" in age.text
        user.send_text("i dont know how much longer i can do this")
        question = await user.wait_for_message(
            lambda m: "danger right now" in m.text and bool(m.keyboard), timeout=10
        )
        assert option_ids(question) == ["safety.check.yes", "safety.check.no"]
        user.press(1, question)
        back = await user.wait_for_message(lambda m: "/helplines" in m.text, timeout=10)
        assert "reached your limit" not in back.text
        user.send_text("i dont know how much longer i can do this")
        question = await user.wait_for_message(
            lambda m: "danger right now" in m.text and bool(m.keyboard), timeout=10
        )
        user.press(0, question)
        help_reply = await user.wait_for_message(lambda m: "reached your limit" in m.text, timeout=10)
        # Where they are is asked after the first ideas: until then, every country's number first.
        assert help_reply.text.startswith("Emergency numbers") and "999" in help_reply.text
        # Free text that is neither a button nor danger: a real answer with a way to help.
        user.send_text("my son likes trains")
        answer = await user.wait_for_message(lambda m: "only answer with the buttons" in m.text, timeout=10)
        assert "/now" in answer.text and "/helplines" in answer.text
        bad = [(c.method, c.status) for c in api.calls if not c.ok and c.method != "getUpdates"]
        assert bad == []
