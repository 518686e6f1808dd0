"""The team around the child, through the real Service on memory, SQLite and PostgreSQL.

What the adults receive is asserted, and what the tables hold is read back directly (SQL), for
invites, joining, the shared log, the daily note, and each way of ending: removal, leaving, the
owner's /delete (the circle closes and members are told) and a member's /delete (only their rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from circle_people import CIRCLE_ROWS, Clock, Person, carer_with_a_plan, invite, table_rows

from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.domain.circle import INVITE_DAYS
from neuroseq_core.engine.circle import is_label
from neuroseq_core.service import Service
from neuroseq_core.store.base import Store
from neuroseq_core.store.memory import MemoryStore
from neuroseq_core.store.migrate import upgrade
from neuroseq_core.store.open import open_store
from neuroseq_core.store.tables import CIRCLE_TABLES, SHARED_TABLES, USER_TABLES, reminders

STORES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
async def store(request, tmp_path) -> AsyncIterator[Store]:
    clock = Clock()
    if request.param == "memory":
        s: Store = MemoryStore(clock)
    elif request.param == "sqlite":
        s = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'circle.db'}", clock=clock)
    else:
        url = request.getfixturevalue("postgres_url")
        await upgrade(url)
        s = await open_store(url, clock=clock)
        async with s.engine.begin() as conn:  # type: ignore[attr-defined]
            tables = ", ".join([*USER_TABLES, *CIRCLE_TABLES, *SHARED_TABLES])
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    s.test_clock = clock  # type: ignore[attr-defined]
    yield s
    await s.close()


@pytest.fixture
def people(store: Store, content: Content):
    service = Service(store, ContentHolder(content))
    clock: Clock = store.test_clock  # type: ignore[attr-defined]
    return lambda user_id: Person(service, store, user_id, clock)


async def rows(store: Store) -> dict[str, list[dict]]:
    return {t: await table_rows(store, t) for t in CIRCLE_ROWS}


async def carer_and_teacher(people) -> tuple[Person, Person, str]:
    carer, teacher = people("1001"), people("2002")
    await carer_with_a_plan(carer)
    code = await invite(carer, "school", "Ms Lee, class teacher")
    await teacher.start(payload=code)
    await teacher.press("join")
    return carer, teacher, code


# ---- inviting and joining ------------------------------------------------------------------------


async def test_invite_join_answer_log_and_the_carer_sees_it(store, people):
    carer, teacher = people("1001"), people("2002")
    await carer_with_a_plan(carer)
    code = await invite(carer, "school", "Ms Lee, class teacher")
    assert 20 <= len(code) <= 64 and all(c.isalnum() or c in "_-" for c in code)
    # The invitee sees the disclaimer, who invites them (by label), what is shared and what never is.
    shown = teacher.text(await teacher.start(payload=code))
    assert "not a diagnosis" in shown and "Sam's mum" in shown and "Ms Lee, class teacher" in shown
    assert "What the circle shares" in shown and "never shared" in shown
    assert teacher.ids() == ["join", "not_now"]
    # Joining starts their own questions about the circle's child: the student questions, at once.
    joined = teacher.text(await teacher.press("join"))
    assert "1 of 5" in joined and "your student" in joined
    await teacher.answer_questions(1)
    assert "more" in teacher.ids()
    # A try, logged by button: the idea, then how it went.
    await teacher.command("circle")
    await teacher.press("log")
    idea = teacher.last.choices[0]
    await teacher.press(idea.id)
    logged = teacher.text(await teacher.press("worked"))
    assert "Noted" in logged
    # The carer is told who joined; /circle shows the teacher by label, both views and the try.
    news = carer.text(await carer.inbox())
    assert "Ms Lee, class teacher joined your circle" in news
    circle = await carer.command("circle")
    summary = next(r for r in circle if r.kind == "result")
    text = carer.text([summary])
    assert "Ms Lee, class teacher: Teacher or school staff" in text
    assert "at home (Sam's mum)" in text and "at school (Ms Lee, class teacher)" in text
    lines = text.splitlines()  # the views side by side: one line each, each with its own ideas
    assert [line.startswith("• at home") for line in lines].count(True) == 1
    assert any(line.startswith("• at school (Ms Lee, class teacher)") and "Ideas:" in line for line in lines)
    assert f"Ms Lee, class teacher tried {idea.label} at school: helped" in text
    assert summary.picture is not None and "steadier" in summary.picture.changes  # a tick where it helped
    # Stored: one circle, two members, no open invite (used), one try at school.
    found = await rows(store)
    assert len(found["circles"]) == 1 and len(found["circle_members"]) == 2
    assert found["circle_invites"] == []
    [entry] = found["circle_log"]
    assert (entry["activity"], entry["setting"], entry["outcome"]) == (idea.id, "school", "worked")


async def test_an_invite_used_twice_expired_or_guessed_is_refused_and_reveals_nothing(store, people):
    carer, teacher, code = await carer_and_teacher(people)
    refusals = []
    # Used: someone else opens the same link.
    other = people("3003")
    refusals.append(other.text(await other.start(payload=code)))
    # Guessed: a code of the right shape that was never made.
    guesser = people("4004")
    refusals.append(guesser.text(await guesser.start(payload="A" * 32)))
    # Expired: a fresh invite, opened eight days later.
    late_code = await invite(carer, "carer", "Grandad")
    store.test_clock.now += dt.timedelta(days=INVITE_DAYS + 1)  # type: ignore[attr-defined]
    late = people("5005")
    refusals.append(late.text(await late.start(payload=late_code)))
    # /join with a code the console way: the same answer.
    typed = people("6006")
    await typed.start()
    refusals.append(typed.text(await typed.command("join", "not-a-real-code")))
    for text in refusals:
        assert "This invite can't be used" in text
        assert "Sam's mum" not in text and "Ms Lee" not in text and "Grandad" not in text
    # One answer for every reason: nothing tells a used code from a guessed or an old one.
    first_lines = {t.split("\n")[0] for t in refusals}
    assert len(first_lines) == 1, first_lines
    # Nobody joined; the refused ones hold nothing (no consent, nothing kept).
    members = await table_rows(store, "circle_members")
    assert len(members) == 2
    assert not [m for m in members if m["user_id"] in ("3003", "4004", "5005")]


async def test_not_now_keeps_nothing_and_the_link_still_works(store, people):
    carer = people("1001")
    await carer_with_a_plan(carer)
    code = await invite(carer, "carer", "Grandad")
    grandad = people("7007")
    await grandad.start(payload=code)
    text = grandad.text(await grandad.press("not_now"))
    assert "Nothing of the invite was kept" in text
    assert len(await table_rows(store, "circle_members")) == 1
    assert len(await table_rows(store, "circle_invites")) == 1
    await grandad.start(payload=code)
    await grandad.press("join")
    assert len(await table_rows(store, "circle_members")) == 2


async def test_a_member_never_sees_anothers_safety_replies_or_telegram_name(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    # The teacher, mid-questions, writes something that gets a danger reply.
    help_reply = teacher.text(await teacher.type("I want to kill myself tonight"))
    assert "999" in help_reply or "emergency" in help_reply.lower()
    await teacher.answer_questions(1)
    before = len(carer.received)
    await carer.inbox()
    await carer.command("circle")
    seen = carer.text(carer.received[before:])
    assert "Ms Lee, class teacher" in seen  # the carer sees the teacher, by label
    for word in ("kill", "danger", "emergency", "999", "Samaritans", "helpline"):
        assert word.lower() not in seen.lower(), word
    everything = carer.text()
    # Only labels the adults chose: never a Telegram name (the Person carries none; the tables
    # have no column for one).
    for table in ("circle_members", "circle_log"):
        for row in await table_rows(store, table):
            assert not {"first_name", "username", "name"} & set(row)
    assert "2002" not in everything  # nor anyone's user id


# ---- the log, the daily note ---------------------------------------------------------------------


async def test_the_daily_note_comes_at_most_once_a_day_and_only_for_news(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.answer_questions(1)
    await carer.command("circle")
    await carer.press("digest_on")
    # The teacher logs two tries; one note is scheduled for the carer, not two.
    for outcome in ("worked", "partly"):
        store.test_clock.now += dt.timedelta(minutes=20)  # type: ignore[attr-defined]
        await teacher.command("circle")
        await teacher.press("log")
        await teacher.press(teacher.last.choices[0].id)
        await teacher.press(outcome)
    digests = [r for r in await _reminders(store) if r["kind"] == "circle_digest"]
    assert [d["user_id"] for d in digests] == ["1001"]
    [digest] = digests
    assert digest["due_at"] > store.test_clock.now  # type: ignore[attr-defined]  (it waits a little)
    store.test_clock.now += dt.timedelta(hours=2)  # type: ignore[attr-defined]
    note = carer.text(await carer.due("circle_digest"))
    assert note.count("Ms Lee, class teacher tried") == 2 and "since your last note" in note
    # Nothing new since: no second note.
    assert await carer.due("circle_digest") == []
    # The carer's own tries never come back to them as news; the teacher did not opt in.
    await carer.command("circle")
    await carer.press("log")
    await carer.press(carer.last.choices[0].id)
    await carer.press("worked")
    digests = [r for r in await _reminders(store) if r["kind"] == "circle_digest" and r["sent_at"] is None]
    assert digests == [] or all(d["user_id"] != "2002" for d in digests)


async def _reminders(store: Store) -> list[dict]:
    if isinstance(store, MemoryStore):
        return [
            {"kind": r.kind, "user_id": r.user_id, "sent_at": r.sent_at, "due_at": r.due_at}
            for r in store._state.reminders.values()
        ]
    async with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return [dict(r._mapping) for r in await conn.execute(sa.select(reminders))]  # typed columns


# ---- control stays with people ---------------------------------------------------------------------


async def _log(person: Person, outcome: str = "worked") -> None:
    await person.command("circle")
    await person.press("log")
    await person.press(person.last.choices[0].id)
    await person.press(outcome)


async def test_removal_leaves_exactly_the_rows_it_should(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.answer_questions(1)
    await _log(teacher)
    await _log(carer)
    await carer.command("circle")
    await carer.press("people")
    await carer.press(next(i for i in carer.ids() if i.startswith("remove:")))
    assert "Remove Ms Lee, class teacher" in carer.text([carer.last])
    await carer.press("yes")
    found = await rows(store)
    assert [m["user_id"] for m in found["circle_members"]] == ["1001"]
    assert [e["user_id"] for e in found["circle_log"]] == ["1001"]  # the teacher's try went with them
    assert len(found["circles"]) == 1
    assert "no longer part of a circle" in teacher.text(await teacher.inbox())
    # The teacher's own conversation stays theirs.
    assert (await teacher.command("circle"))[0].text.startswith("<b>The team around")
    assert "not in a circle" in teacher.text()


async def test_leaving_takes_only_the_leavers_rows(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.answer_questions(1)
    await _log(teacher)
    await _log(carer)
    await teacher.command("circle")
    await teacher.press("leave")
    await teacher.press("yes")
    found = await rows(store)
    assert [m["user_id"] for m in found["circle_members"]] == ["1001"]
    assert [e["user_id"] for e in found["circle_log"]] == ["1001"]


async def test_the_owners_delete_closes_the_circle_and_tells_its_members(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.answer_questions(1)
    await _log(teacher)
    await invite(carer, "carer", "Grandad")  # an open invite, too
    await carer.command("delete")
    await carer.press("delete.confirm")
    found = await rows(store)
    assert found == {t: [] for t in CIRCLE_ROWS}
    assert "has been closed" in teacher.text(await teacher.inbox())
    # The teacher's own answers are still theirs.
    assert (await teacher.command("progress")) != []


async def test_a_members_delete_removes_only_their_own_contributions(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.answer_questions(1)
    await _log(teacher)
    await _log(carer)
    await teacher.command("delete")
    await teacher.press("delete.confirm")
    found = await rows(store)
    assert len(found["circles"]) == 1
    assert [m["user_id"] for m in found["circle_members"]] == ["1001"]
    assert [e["user_id"] for e in found["circle_log"]] == ["1001"]
    await carer.command("circle")
    assert "Ms Lee" not in carer.text(carer.received[-2:])


async def test_closing_from_the_circle_and_the_retention_purge(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await carer.command("circle")
    await carer.press("close")
    await carer.press("yes")
    assert await rows(store) == {t: [] for t in CIRCLE_ROWS}
    assert "has been closed" in teacher.text(await teacher.inbox())
    # A new circle, then nobody comes back for a year: the purge takes the circle with its owner.
    await invite(carer, "carer", "Grandad", my_label="Sam's mum")
    assert len(await table_rows(store, "circles")) == 1
    store.test_clock.now += dt.timedelta(days=400)  # type: ignore[attr-defined]
    await store.purge_inactive(store.test_clock.now - dt.timedelta(days=365))  # type: ignore[attr-defined]
    assert await rows(store) == {t: [] for t in CIRCLE_ROWS}


async def test_only_the_owner_invites_and_only_after_the_questions(store, people):
    newcomer = people("8008")
    await newcomer.start()
    await newcomer.press("agree")
    assert "first answer the questions" in newcomer.text(await newcomer.command("invite"))
    carer, teacher, _code = await carer_and_teacher(people)
    assert "Only the person who set up this circle" in teacher.text(await teacher.command("invite"))


def test_labels_are_short_names_not_sentences():
    assert is_label("Ms Lee, class teacher") and is_label("Sam's mum") and is_label("Mamá de Sam")
    assert is_label("Mr Okafor, Year 3 teacher") and is_label("Room 12 teacher")
    assert not is_label("he has been struggling so much this week")
    assert not is_label("call me on 0777 123") and not is_label("@someone") and not is_label("<b>x</b>")
    assert not is_label("Dana really really really long label here")  # over 40: said, not cut


async def test_a_long_label_is_refused_not_cut(store, people):
    carer = people("1001")
    await carer_with_a_plan(carer)
    await carer.command("invite")
    said = carer.text(await carer.type("Dana the foster carer of a lovely boy"))
    assert "up to 40 characters" in said and carer.ids() == ["skip", "back"]
    await carer.type("Dana (foster carer)")
    assert "carer" in carer.ids()
    assert [m["label"] for m in await table_rows(store, "circle_members")] == ["Dana (foster carer)"]


async def test_a_skipped_label_reads_in_each_members_language(store, people):
    carer, gran = people("1001"), people("2003")
    gran.language = "es"
    await carer_with_a_plan(carer)
    await carer.command("invite")
    await carer.press("skip")  # no label: "Parent or carer", in whoever reads it
    await carer.press("carer")
    code = next(r.invite for r in await carer.press("skip") if r.invite)
    shown = gran.text(await gran.start(payload=code))
    assert "Mamá, papá o cuidador" in shown and "Parent or carer" not in shown
    await gran.press("join")
    await gran.command("circle")
    assert "Parent or carer" not in gran.text()
    news = carer.text(await carer.inbox())
    assert "Another parent or carer joined your circle" in news


async def test_the_owner_is_told_when_someone_leaves_or_erases_themselves(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.command("circle")
    await teacher.press("leave")
    await teacher.press("yes")
    assert "Ms Lee, class teacher has left your circle" in carer.text(await carer.inbox())
    grandad = people("7007")
    await grandad.start(payload=await invite(carer, "carer", "Grandad"))
    await grandad.press("join")
    await carer.inbox()
    await grandad.command("delete")
    await grandad.press("delete.confirm")
    assert "Grandad has left your circle" in carer.text(await carer.inbox())
    assert [m["user_id"] for m in await table_rows(store, "circle_members")] == ["1001"]


async def test_the_menu_shows_what_was_just_changed(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await carer.command("circle")
    await carer.press("digest_on")
    assert "digest_off" in carer.ids() and "digest_on" not in carer.ids()
    await carer.press("digest_off")
    assert "digest_on" in carer.ids()
    await carer.press("people")
    await carer.press(next(i for i in carer.ids() if i.startswith("remove:")))
    await carer.press("yes")
    assert "people" not in carer.ids()  # nobody left to remove


async def test_a_checkin_answer_feeds_the_circle_log(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await carer.command("circle")
    await carer.press("back")  # back where they were: the results
    await carer.press("checkin")
    await carer.press("1")
    store.test_clock.now += dt.timedelta(days=1)  # type: ignore[attr-defined]
    asked = await carer.due("checkin")
    assert "Checking in" in carer.text(asked)
    await carer.press("worked")
    [entry] = await table_rows(store, "circle_log")
    assert (entry["user_id"], entry["setting"], entry["outcome"]) == ("1001", "home", "worked")
    # Someone in no circle answers a check-in: nothing is logged anywhere.
    loner = people("9009")
    await carer_with_a_plan(loner)
    await loner.press("checkin")
    await loner.press("1")
    await loner.due("checkin")
    await loner.press("partly")
    assert len(await table_rows(store, "circle_log")) == 1


# ---- what a review found -----------------------------------------------------------------------------


async def test_a_professional_joins_once_and_sees_the_circle(store, people):
    carer, worker = people("1001"), people("3030")
    await carer_with_a_plan(carer)
    code = await invite(carer, "professional", "Jo, social worker")
    await worker.start(payload=code)
    joined = worker.text(await worker.press("join"))
    assert "Welcome to the circle" in joined and "1 of 5" not in joined  # no questions of their own
    assert "log" in worker.ids()  # the circle's menu
    assert len(await table_rows(store, "circle_members")) == 2
    assert carer.text(await carer.inbox()).count("joined your circle") == 1


async def test_join_on_an_invite_used_meanwhile_is_refused_plainly(store, people):
    carer, first, second = people("1001"), people("2002"), people("2003")
    await carer_with_a_plan(carer)
    code = await invite(carer, "school", "Ms Lee")
    await first.start(payload=code)
    await second.start(payload=code)  # both have the Join screen open
    await first.press("join")
    refused = second.text(await second.press("join"))
    assert "This invite can't be used" in refused and "Ms Lee" not in refused
    assert [m["user_id"] for m in await table_rows(store, "circle_members")] == ["1001", "2002"]


async def test_the_daily_note_does_not_keep_someone_away_from_the_purge(store, people, content):
    carer, teacher, _code = await carer_and_teacher(people)
    await teacher.command("circle")
    await teacher.press("digest_on")
    clock = store.test_clock  # type: ignore[attr-defined]
    service = Service(store, ContentHolder(content))
    for _ in range(3):  # the carer keeps logging for 200 days; the teacher never comes back
        clock.now += dt.timedelta(days=70)
        await _log(carer)
        clock.now += dt.timedelta(days=1)
        for reminder in await store.claim_due_reminders(clock.now):
            await service.handle_reminder(reminder, clock.now)  # the note goes out, as the bot does
    assert await store.purge_inactive(clock.now - dt.timedelta(days=180)) == 1
    assert [m["user_id"] for m in await table_rows(store, "circle_members")] == ["1001"]


async def test_stop_also_stops_the_note_and_a_checkin_keeps_it(store, people):
    carer, teacher, _code = await carer_and_teacher(people)
    await carer.command("circle")
    await carer.press("digest_on")
    store.test_clock.now += dt.timedelta(minutes=5)  # type: ignore[attr-defined]
    await teacher.answer_questions(1)
    await _log(teacher)
    await carer.press("back")  # from the circle: back to the results
    await carer.press("checkin")
    await carer.press("3")  # a check-in replaces check-ins, never the circle's note
    assert [r["kind"] for r in await _reminders(store) if r["sent_at"] is None].count("circle_digest") == 1
    await carer.command("stop")
    assert [r for r in await _reminders(store) if r["sent_at"] is None] == []


async def test_the_invite_questions_can_be_left_and_back_undoes_no_answer(store, people):
    carer = people("1001")
    await carer_with_a_plan(carer)
    await carer.command("invite")
    assert "back" in carer.ids()
    await carer.press("back")
    assert "more" in carer.ids()  # the results, where they were
    assert await table_rows(store, "circles") == []
    await carer.command("invite")
    await carer.type("Sam's mum")
    await carer.command("back")
    assert "more" in carer.ids()
    async with store.transaction("1001") as tx:
        session = await tx.load_session()
    assert session is not None and len(session.answers) == 5  # no answer was undone


async def test_an_invite_code_is_kept_only_while_its_join_screen_is_open(store, people):
    carer, teacher = people("1001"), people("2002")
    await carer_with_a_plan(carer)
    code = await invite(carer, "school", "Ms Lee")
    await teacher.start(payload=code)
    await teacher.command("help")  # the Join screen is asked again, still open
    async with store.transaction("2002") as tx:
        session = await tx.load_session()
    assert session is not None and session.state == "circle_join" and session.circle_code == code
    await teacher.command("now")  # somewhere else: the code is not kept
    async with store.transaction("2002") as tx:
        session = await tx.load_session()
    assert session is not None and session.state != "circle_join" and session.circle_code is None
