"""Onboarding: welcome and consent, who you are, where, the child's age band, a nickname; /start and /restart."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from transitions import EventData

from dialogs.flow import Ask
from dialogs.main import RESUMABLE
from neuroseq_core.domain.events import Button, Start
from neuroseq_core.engine.account import language_buttons
from neuroseq_core.engine.asking import prompt
from neuroseq_core.engine.matching import match_choice, typed_age
from neuroseq_core.engine.registry import callback, source
from neuroseq_core.engine.turn import Turn
from neuroseq_core.safety.reply import is_nickname

# ---- guards ---------------------------------------------------------------------------------------


@callback
def is_educator(turn: Turn, ev: EventData) -> bool:
    """Guard: the user is an educator."""
    return turn.s.role == "educator"


@callback
def is_class(turn: Turn, ev: EventData) -> bool:
    """Guard: the educator is thinking of a whole class."""
    return turn.s.group == "class"


@callback
def has_consent(turn: Turn, ev: EventData) -> bool:
    """Guard: the user agreed to the disclaimer."""
    return turn.s.consent


# ---- callbacks ------------------------------------------------------------------------------------


@callback
def welcome(turn: Turn, ev: EventData) -> None:
    """Callback: the welcome, before the disclaimer is asked."""
    turn.say("start.welcome")


@callback
def say_declined(turn: Turn, ev: EventData) -> None:
    """Callback: the user declined the disclaimer; nothing is kept but that."""
    turn.say("consent.declined")


@callback
def set_consent(turn: Turn, ev: EventData) -> None:
    """Callback: the user agreed to the disclaimer."""
    turn.s.consent = True


# The role buttons: who the user is and who they are thinking of, in one tap.
ROLES: dict[str, tuple[Literal["caregiver", "educator"], Literal["one", "class"]]] = {
    "parent": ("caregiver", "one"),
    "foster": ("caregiver", "one"),
    "student": ("educator", "one"),
    "class": ("educator", "class"),
}


@callback
def set_role(turn: Turn, ev: EventData) -> None:
    """Callback: a parent or foster carer (one child at home), or a teacher (one student or a class)."""
    choice = ev.kwargs["value"]
    turn.s.role, turn.s.group = ROLES[choice]
    if turn.s.role == "caregiver":
        turn.s.carer = "foster" if choice == "foster" else "parent"
        turn.s.setting, turn.s.minutes = "home", None
    else:
        turn.s.carer, turn.s.setting = None, None
    if turn.s.group == "class":
        turn.s.nickname = None


@callback
def set_region(turn: Turn, ev: EventData) -> None:
    """Callback: the region, for helplines."""
    turn.s.region = ev.kwargs["value"]


@callback
def set_age_band(turn: Turn, ev: EventData) -> None:
    """Callback: the child's age band (a band, never a developmental age)."""
    turn.s.age_band = ev.kwargs["value"]


@callback
def set_minutes(turn: Turn, ev: EventData) -> None:
    """Callback: the time a teacher has."""
    turn.s.minutes = int(ev.kwargs["value"])


@callback
def set_setting(turn: Turn, ev: EventData) -> None:
    """Callback: classroom or outdoors."""
    turn.s.setting = ev.kwargs["value"]


@callback
def set_nickname(turn: Turn, ev: EventData) -> None:
    """Callback: the optional nickname (or none when skipped); asked once."""
    turn.s.nickname = ev.kwargs.get("text") or None
    turn.s.nickname_asked = True


@callback
def needs_region(turn: Turn, ev: EventData) -> bool:
    """Guard: we do not know where the user is yet (asked once, after the first ideas)."""
    return turn.s.region is None


@callback
def needs_minutes(turn: Turn, ev: EventData) -> bool:
    """Guard: a teacher has not said how much time they have."""
    return turn.s.role == "educator" and turn.s.minutes is None


@callback
def wants_nickname(turn: Turn, ev: EventData) -> bool:
    """Guard: one child or student, and the nickname was not offered yet."""
    return turn.s.group == "one" and turn.s.nickname is None and not turn.s.nickname_asked


@callback
def forget_run(turn: Turn, ev: EventData) -> None:
    """Callback of /restart: a new run, keeping what the session marks as the user's."""
    turn.s = turn.s.fresh("user")
    if turn.s.consent:
        turn.note = "restart.done"


# ---- choices --------------------------------------------------------------------------------------


@source("regions")
def regions(turn: Turn, fixed: list[Button]) -> list[Button]:
    """The regions whose helplines we carry."""
    return [Button(id=r.id, label=turn.c.local(r.name, turn.lang)) for r in turn.regions_in_order()]


@source("consent")
def consent_options(turn: Turn, fixed: list[Button]) -> list[Button]:
    """Begin or not now; and the other languages, for someone who does not read this one."""
    return [*fixed, *language_buttons(turn)]


def on_typed_age(turn: Turn, raw: str, ask: Ask) -> bool:
    """An age typed at the age question ("4", "she's 14"): its band, said back so a slip shows."""
    found = typed_age(raw, list(turn.c.age_bands.values()))
    if found is None:
        return False
    age, months, band = found
    turn.note = None
    if turn.fire(ask.trigger, value=band.id):
        turn.s.history.append("age_band")
        turn.say("age_band.understood", age=age, months=months, band=turn.c.local(band.label, turn.lang))
        prompt(turn)
    return True


@source("age_bands")
def age_bands(turn: Turn, fixed: list[Button]) -> list[Button]:
    """The age bands, youngest first."""
    bands = sorted(turn.c.age_bands.values(), key=lambda b: b.min_age)
    return [Button(id=b.id, label=turn.c.local(b.label, turn.lang)) for b in bands]


# ---- typed input and commands ---------------------------------------------------------------------


def clean_nickname(raw: str) -> str:
    """A nickname as we keep it: no control characters, single spaces, trimmed."""
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw)
    return re.sub(r"\s+", " ", text).strip()


def on_nickname(turn: Turn, raw: str, ask: Ask) -> bool:
    """The optional nickname, typed: short, and never a real name (we ask; we cannot check).
    Returns False when the text is the Skip button, for the caller to press it."""
    if match_choice(turn, raw, ask) == "skip":
        return False
    name = clean_nickname(raw)
    if not name:
        prompt(turn, "reprompt.choose")
    elif not is_nickname(name):
        prompt(turn, "nickname.not_a_name")  # a sentence is not a name: never echoed back, never kept
    elif not turn.fire(ask.text_trigger or ask.trigger, text=name):
        turn.refused = True
        prompt(turn, "reprompt.unknown")
    else:
        turn.s.history.append("nickname")
        prompt(turn)
    return True


def on_start(turn: Turn, ev: Start) -> None:
    """/start: begin, or welcome back and resume where they were."""
    if turn.state == "new" and ev.language:
        turn.s.language = turn.c.language(ev.language)
    resume = turn.s.returns.resume
    if turn.state == "paused" and turn.fire("resume", to=resume):
        turn.s.returns.resume = None
        prompt(turn, "start.welcome_back")
    elif turn.state in RESUMABLE and turn.s.consent:
        prompt(turn, "start.welcome_back")
    else:
        turn.fire("begin")
        prompt(turn)


def restart(turn: Turn) -> None:
    """/restart: the questions again (consent, language and region are kept)."""
    turn.fire("restart")
    prompt(turn)
