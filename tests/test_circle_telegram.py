"""The team around the child in Telegram: two real chats (a carer and a teacher) through the fake
Bot API and the real Application, and the same journey in the console with /join.

Asserted on what each person receives: the invite is a deep link to this bot; the teacher opens it,
consents, answers the student questions and logs "it helped" at school; the carer's /circle shows
the teacher by label, with that try. Neither sees the other's Telegram name.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from fakebot import BotMessage, FakeBotAPI, FakeUser
from fakebot.harness import outbox_drained, polling_bot
from neuroseq_core.cli.console import run_console
from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.service import Service
from neuroseq_core.store.open import open_store

LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]{1,64})")


def option_ids(message: BotMessage) -> list[str]:
    return [b["callback_data"].split("|", 1)[1] for row in message.keyboard for b in row]


async def press(user: FakeUser, option: str) -> BotMessage:
    """Press the button with this option id on the latest keyboard; returns the next keyboard."""
    message = user.last_keyboard()
    assert message is not None
    ids = option_ids(message)
    assert option in ids, (option, ids)
    user.press(ids.index(option), message)
    return await user.wait_for_keyboard(timeout=10)


async def answer_all(user: FakeUser, keyboard: BotMessage) -> BotMessage:
    """The questions (the second answer each time) and where we are, to the results' menu."""
    for _ in range(40):
        ids = option_ids(keyboard)
        if "more" in ids:
            return keyboard
        keyboard = await press(user, "uk" if "uk" in ids else ids[1])
    raise AssertionError("no results")


async def test_carer_invites_a_teacher_who_joins_answers_and_logs_at_school(tmp_path: Path, content: Content):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'circle.db'}")
    service = Service(store, ContentHolder(content))
    async with FakeBotAPI() as api, polling_bot(api, store, service):
        carer = api.user(1001, first_name="Rosalind")
        teacher = api.user(2002, first_name="Priyamvada")
        carer.send_command("start")
        keyboard = await carer.wait_for_keyboard(timeout=10)
        for option in ("agree", "parent", "6-11"):
            keyboard = await press(carer, option)
        await answer_all(carer, keyboard)
        # /invite: how the others see the carer, who is invited, how the others see them.
        carer.send_command("invite")
        await carer.wait_for_message(lambda m: "how should the others see you" in m.text, timeout=10)
        carer.send_text("Sam's mum")
        await carer.wait_for_message(lambda m: "Who would you like to invite" in m.text, timeout=10)
        await press(carer, "school")
        carer.send_text("Ms Lee, class teacher")
        made = await carer.wait_for_message(lambda m: bool(LINK.search(m.text)), timeout=10)
        bot, code = LINK.search(made.text).groups()  # type: ignore[union-attr]
        assert bot == api.username and "It works once, for 7 days" in made.text
        # The teacher opens the link: the disclaimer, who invites them, what is and is not shared.
        teacher.send_command("start", code)
        join = await teacher.wait_for_keyboard(timeout=10)
        assert option_ids(join) == ["join", "not_now"]
        assert "Sam's mum" in join.text and "What is never shared" in join.text
        assert any("not a diagnosis" in m.text for m in teacher.messages)
        first = await press(teacher, "join")
        assert "1 of 5" in first.text and "your student" in first.text  # the student questions
        await answer_all(teacher, first)
        # "It helped", at school, by button.
        teacher.send_command("circle")
        menu = await teacher.wait_for_message(lambda m: "log" in option_ids(m), timeout=10)
        ideas = await press(teacher, "log")
        idea = ideas.labels[0]
        await press(teacher, option_ids(ideas)[0])
        await press(teacher, "worked")
        assert any("Noted" in m.text for m in teacher.messages) and menu
        # The carer was told (by the flusher), and /circle shows the teacher by label and the try.
        await carer.wait_for_message(
            lambda m: "Ms Lee, class teacher joined your circle" in m.text, timeout=10
        )
        carer.send_command("circle")
        summary = await carer.wait_for_message(lambda m: "Latest tries" in m.text, timeout=10)
        assert "Ms Lee, class teacher: Teacher or school staff" in summary.text
        assert f"Ms Lee, class teacher tried {idea} at school: helped" in summary.text
        assert any(m.is_photo for m in carer.messages[-4:])  # what helped where, drawn
        assert await outbox_drained(store)
        # Labels only: nobody's Telegram name or id reaches the other.
        assert not any("Priyamvada" in m.text or "2002" in m.text for m in carer.messages)
        assert not any("Rosalind" in m.text or "1001" in m.text for m in teacher.messages)
        bad = [(c.method, c.status) for c in api.calls if not c.ok and c.method != "getUpdates"]
        assert bad == []
    await store.close()


async def test_the_same_in_the_console_with_join(tmp_path: Path, content: Content):
    db = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    holder = ContentHolder(content)

    async def talk(user: str, lines: list[str]) -> str:
        store = await open_store(db)
        out = io.StringIO()
        try:
            await run_console(
                io.StringIO("".join(f"{line}\n" for line in lines)), out, store, holder, user_id=user
            )
        finally:
            await store.close()
        return out.getvalue()

    # The carer: consent, parent, age band, five questions, where we are; then /invite.
    carer = await talk(
        "carer", ["1", "1", "3", "2", "2", "2", "2", "2", "3", "/invite", "Sam's mum", "2", "Ms Lee"]
    )
    codes = re.findall(r"/join ([A-Za-z0-9_-]+)", carer)
    assert codes, carer[-1500:]
    teacher = await talk(
        "teacher", [f"/join {codes[-1]}", "1", "2", "2", "2", "2", "2", "3", "/circle", "1", "1", "1"]
    )
    assert "Sam's mum invites you" in teacher and "What is never shared" in teacher
    assert "1 of 5" in teacher and "Noted" in teacher
    carer_again = await talk("carer", ["/circle"])
    assert "Ms Lee joined your circle" in carer_again
    assert "Ms Lee tried" in carer_again and "at school: helped" in carer_again
    # A used code, typed again by someone else: refused, and it says nothing of whose it was.
    other = await talk("other", [f"/join {codes[-1]}"])
    assert "This invite can't be used" in other and "Sam's mum" not in other
