"""The user's own controls: pause and stop, /back, language, and erasing everything."""

from __future__ import annotations

from transitions import EventData

from dialogs.circle import CIRCLE_STATES
from dialogs.main import RESUMABLE
from neuroseq_core.domain.effects import CancelReminders, DeleteUser, SetDigest
from neuroseq_core.domain.events import Button
from neuroseq_core.engine.asking import prompt, side_question
from neuroseq_core.engine.registry import callback
from neuroseq_core.engine.turn import Turn

DELETE_CONFIRM = "delete.confirm"
DELETE_KEEP = "delete.keep"
LANGUAGE = "language:"  # + a language code: the button that switches to it


def language_buttons(turn: Turn) -> list[Button]:
    """A button for each other language, labelled in that language."""
    return [
        Button(id=LANGUAGE + lang, label=turn.c.text("language.button", lang))
        for lang in turn.c.languages.languages
        if lang != turn.lang
    ]


def switch_language(turn: Turn, wanted: str) -> None:
    """Speak another language from now on; the welcome and disclaimer again in it, then where we were."""
    if wanted not in turn.c.languages.languages:
        turn.refused = True
        prompt(turn, "reprompt.stale")
        return
    turn.s.language = wanted
    turn.say("start.welcome")
    prompt(turn, "language.changed")


@callback
def remember_resume(turn: Turn, ev: EventData) -> None:
    """Callback: where /start picks up after a pause."""
    if turn.state in RESUMABLE:
        turn.s.returns.resume = turn.state


def pause(turn: Turn, message: str = "cancel.done") -> None:
    """Stop for now; everything answered is kept for /start."""
    turn.fire("pause")
    turn.say(message)


def stop(turn: Turn) -> None:
    """/stop: pause, and end every check-in (the user asked us to stop, not only to pause)."""
    turn.effects.append(CancelReminders())
    turn.effects.append(SetDigest(on=False))  # and the circle's daily note (nothing outside a circle)
    turn.s.followup.checkin_days = None
    pause(turn, "stop.done")


def back(turn: Turn) -> None:
    """Go back one question, or one onboarding step (history holds both, newest last); in the
    circle, back where they were before it (no answer is undone from there)."""
    if turn.state in CIRCLE_STATES and turn.fire("circle_done", to=turn.s.returns.circle_return):
        prompt(turn)
        return
    if turn.state not in RESUMABLE or not turn.s.history:
        prompt(turn, "back.nothing")
        return
    entry = turn.s.history.pop()
    if entry.startswith("q:"):
        qid = entry[2:]
        turn.s.answers.pop(qid, None)
        turn.s.question_id = qid
        q = turn.c.questions.get(qid)
        if q is not None and q.core and turn.s.depth == "deep":
            turn.s.depth = "core"  # back across the closer look, into the core questions
        entry = "questions"
    turn.fire("back", to=entry)
    prompt(turn)


def language(turn: Turn, args: str) -> None:
    """Switch language: /language es, or show the choice."""
    wanted = args.strip().lower()
    if wanted in turn.c.languages.languages:
        switch_language(turn, wanted)
        return
    names = ", ".join(f"/language {lang}" for lang in turn.c.languages.languages)
    side_question(turn, turn.t("language.choose", options=names), [], before=language_buttons(turn))


def ask_delete(turn: Turn) -> None:
    """/delete: confirm first; the question on screen stays."""
    turn.s.pending = "delete"
    side_question(turn, turn.t("delete.question"), [DELETE_KEEP, DELETE_CONFIRM])


def on_delete_choice(turn: Turn, option_id: str) -> None:
    """Erase everything (the service does it in this update's transaction), or keep it."""
    if turn.s.pending != "delete":
        turn.refused = True
        prompt(turn, "reprompt.stale")
        return
    turn.s.pending = None
    if option_id == DELETE_CONFIRM:
        turn.effects.append(DeleteUser())
        turn.say("delete.done")
    else:
        prompt(turn, "delete.kept")
