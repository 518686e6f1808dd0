"""/reload and /stats: admin-only, checked before swapping, anonymous counts.

Service-level tests run the real engine on a memory store; the last test drives the real
python-telegram-bot Application through the fake Bot API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driver import NOW
from fakebot.harness import polling_bot
from neuroseq_core.content import ContentHolder, load_or_raise
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Choice, Command, Event, Start, Text
from neuroseq_core.service import Service
from neuroseq_core.store.memory import MemoryStore

ADMIN = "1001"
OTHER = "2002"


class Chat:
    """One user talking to the service; keeps the last question so presses carry its token."""

    def __init__(self, service: Service, user: str) -> None:
        self.service, self.user = service, user
        self.last = None
        self.texts: list[str] = []

    async def send(self, event: Event) -> str:
        items = await self.service.handle(self.user, self.user, event)
        for item in items:
            if item.reply.choices:
                self.last = item.reply
        self.texts = [to_plain(i.reply.text) for i in items]
        return "\n".join(self.texts)

    async def press(self, option_id: str) -> str:
        assert self.last is not None
        return await self.send(Choice(now=NOW, option_id=option_id, token=self.last.token))

    async def onboard(self) -> None:
        await self.send(Start(now=NOW, language="en"))
        for pick in ("agree", "parent", "6-11"):
            await self.press(pick)

    @property
    def option_ids(self) -> list[str]:
        return [b.id for b in self.last.choices] if self.last else []


def make_service(root: Path) -> Service:
    return Service(MemoryStore(), ContentHolder(load_or_raise(root), root=root), admin_ids=[int(ADMIN)])


def edit(path: Path, old: str, new: str) -> int:
    """Replace text in a content file; returns the 1-based line where the change is."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


BROKEN_EDITS = [
    pytest.param(
        "messages/en/main.yaml",
        "role.question: Who are you thinking about today?",
        "role.question: Who are you thinking about {{ today",
        "role.question",
        id="bad-template",
    ),
    pytest.param(
        "messages/es/main.yaml",
        "consent.agree: Sí, empecemos",
        "consent.agreed: Sí, empecemos",
        "consent.agree",
        id="missing-translation",
    ),
    pytest.param(
        "activities/regulate.yaml",
        'levels: [sensory, self_regulation]\n    age_bands: ["0-2"]',
        'levels: [sensori, self_regulation]\n    age_bands: ["0-2"]',
        "sensori",
        id="unknown-level",
    ),
]


@pytest.mark.parametrize(("rel", "old", "new", "mentions"), BROKEN_EDITS)
async def test_reload_refuses_a_broken_edit_with_file_and_line_and_conversations_go_on(
    copy: Path, rel: str, old: str, new: str, mentions: str
) -> None:
    service = make_service(copy)
    live = service.content.current
    caregiver = Chat(service, OTHER)
    await caregiver.onboard()
    first_question = caregiver.texts[-1]
    await caregiver.press(caregiver.option_ids[1])  # one answer given before the edit

    edit(copy / rel, old, new)
    admin = Chat(service, ADMIN)
    answer = await admin.send(Command(now=NOW, name="reload"))

    assert "Not reloaded" in answer
    assert service.content.current is live  # the old content stays live
    listed = re.findall(r"([\w/.-]+\.yaml):(\d+): error: (.*)", answer)
    assert listed, answer
    assert any(mentions in message for _, _, message in listed), answer
    if rel.startswith("messages/es"):  # a missing translation points at the text to translate
        assert any(f == "messages/en/main.yaml" and "missing in es" in m for f, _, m in listed), answer
    else:
        assert any(f == rel for f, _, _ in listed), answer

    # The caregiver in the middle of the questions carries on as if nothing happened.
    reply = await caregiver.press(caregiver.option_ids[0])
    assert reply != first_question and caregiver.option_ids
    session = await load(service, OTHER)
    assert len([a for a in session.answers.values() if a is not None]) == 2


async def load(service: Service, user: str):
    async with service.store.transaction(user) as tx:
        session = await tx.load_session()
    assert session is not None
    return session


async def test_reload_swaps_clean_content_and_a_removed_question_is_passed_over(copy: Path) -> None:
    service = make_service(copy)
    caregiver = Chat(service, OTHER)
    await caregiver.onboard()
    current = (await load(service, OTHER)).question_id
    assert current == "c_sleep"
    # Staff reword the next question and remove the one on the caregiver's screen.
    path = copy / "questionnaires" / "caregiver.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: c_sleep")
    end = text.index("  - id: c_senses")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    edit(path, "How often do everyday noises", "How often do everyday sounds")

    answer = await Chat(service, ADMIN).send(Command(now=NOW, name="reload"))
    assert "Reloaded" in answer, answer
    assert "c_sleep" not in service.content.current.questions

    # A press on the removed question's buttons is answered kindly, and the next question is asked.
    reply = await caregiver.press("often")
    assert "How often do everyday sounds" in reply
    session = await load(service, OTHER)
    assert session.state == "questions" and session.question_id == "c_senses"
    assert "c_sleep" not in session.answers
    # And the conversation runs to the end on the new content.
    for _ in range(60):
        if session.state != "questions":
            break
        await caregiver.press(caregiver.option_ids[0])
        session = await load(service, OTHER)
    assert session.state == "region" and session.profile is not None  # the ideas, then where we are


async def test_admin_commands_do_not_exist_for_anyone_else(copy: Path) -> None:
    service = make_service(copy)
    stranger = Chat(service, OTHER)
    await stranger.send(Start(now=NOW, language="en"))
    unknown = to_plain(service.content.current.text("command.unknown", "en"))
    for name in ("reload", "stats"):
        reply = await stranger.send(Command(now=NOW, name=name))
        assert unknown.splitlines()[0] in reply
        assert "Reloaded" not in reply and "Anonymous" not in reply
    assert await service.store.counters() == {}  # nothing reloaded or counted for them


async def test_stats_are_anonymous_counts(copy: Path, content) -> None:
    service = make_service(copy)
    for i in range(3):
        chat = Chat(service, f"30{i}")
        await chat.onboard()
        if i == 0:
            await chat.send(Text(now=NOW, text="I want to kill myself"))
        if i < 2:  # two of the three finish the questions
            for _ in range(60):
                if not chat.option_ids or "more" in chat.option_ids:
                    break
                await chat.press(chat.option_ids[-2] if i == 0 else chat.option_ids[0])
    counts = await service.store.counters()
    assert counts["conversation.started"] == 3
    assert counts["conversation.completed"] == 2
    assert counts["safety.suicide_self_harm"] == 1
    assert sum(v for k, v in counts.items() if k.startswith("start_step.")) == 2
    assert not any(re.search(r"30\d", k) for k in counts)  # no user id in any counter

    reply = await Chat(service, ADMIN).send(Command(now=NOW, name="stats"))
    assert "Questions started: 3" in reply and "Questions completed: 2" in reply
    assert "suicide_self_harm: 1" in reply
    for step in ("Regulate", "Relate", "Reason"):
        assert step in reply
    assert "300" not in reply and "301" not in reply


async def test_reload_and_stats_through_telegram(api, copy: Path) -> None:
    store = MemoryStore()
    holder = ContentHolder(load_or_raise(copy), root=copy)
    service = Service(store, holder, admin_ids=[555])
    admin, parent = api.user(555), api.user(777)
    async with polling_bot(api, store, service):
        parent.send_command("start")
        await parent.wait_for_keyboard(timeout=10)
        parent.press(0)  # agree
        await parent.wait_for_keyboard(timeout=10)

        line = edit(copy / "messages" / "en" / "main.yaml", "role.question: Who", "role.question: {{ Who")
        admin.send_command("reload")
        refused = await admin.wait_for_message(lambda m: "Not reloaded" in m.text, timeout=10)
        assert f"messages/en/main.yaml:{line}" in refused.text

        parent.press(0)  # the caregiver goes on, on the old content
        age = await parent.wait_for_keyboard(timeout=10)
        assert "How old is your child?" in age.text

        edit(copy / "messages" / "en" / "main.yaml", "role.question: {{ Who", "role.question: Who")
        edit(copy / "messages" / "en" / "main.yaml", "How old is {{ child }}?", "How old is {{ child }} now?")
        admin.send_command("reload")
        await admin.wait_for_message(lambda m: "Reloaded" in m.text, timeout=10)
        assert holder.current is not None and "now?" in holder.current.template("age_band.question", "en")

        parent.send_command("help")
        again = await parent.wait_for_keyboard(timeout=10)
        assert "How old is your child now?" in again.text  # the new content, the same conversation

        admin.send_command("stats")
        stats = await admin.wait_for_message(lambda m: "Anonymous counts" in m.text, timeout=10)
        assert "777" not in stats.text

        parent.send_command("stats")
        await parent.wait_for_message(lambda m: "know that command" in m.text, timeout=10)
        assert not any("Anonymous" in m.text for m in parent.messages)


async def test_only_admins_menus_list_the_admin_commands(copy: Path) -> None:
    from bot.app import set_commands

    class RecordingBot:
        def __init__(self) -> None:
            self.menus: list[tuple[object, object, list[str]]] = []

        async def set_my_commands(self, commands, scope=None, language_code=None) -> bool:
            self.menus.append((scope, language_code, [c.command for c in commands]))
            return True

    class App:
        bot = RecordingBot()

    service = make_service(copy)
    await set_commands(App(), service, ["en", "es"], admin_ids=[555])  # type: ignore[arg-type]
    public = [names for scope, _lang, names in App.bot.menus if scope is None]
    admins = [(scope, names) for scope, _lang, names in App.bot.menus if scope is not None]
    assert len(public) == 3 and all("reload" not in n and "stats" not in n for n in public)
    assert all("now" in n and "stop" in n for n in public)
    [(scope, names)] = admins
    assert scope.chat_id == 555 and names[-2:] == ["reload", "stats"]
