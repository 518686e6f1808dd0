"""The team around the child: what one adult may see of a circle, as plain data for the engine.

A circle is one child's adults: the carer who set it up (the owner) and the people they invited.
The service reads these views from the store for the events that need them (the engine has no I/O);
they carry labels the adults chose, never a Telegram name or id, and never anyone's free text or
safety conversations: those are not stored in a circle at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["owner", "carer", "school", "professional"]
Where = Literal["home", "school", "other"]  # the setting a member's tries and view belong to
Outcome = Literal["worked", "partly", "not", "not_tried"]  # the check-in's words for how it went

INVITE_DAYS = 7
MAX_LABEL = 40  # characters of a label others see
MAX_TRIES_SHOWN = 6


WHERE: dict[str, Where] = {"owner": "home", "carer": "home", "school": "school", "professional": "other"}


def setting_of(role: Role) -> Where:
    """Where a member's tries happen: carers at home, school staff at school, others elsewhere."""
    return WHERE[role]


class View(BaseModel):
    """One member's own answers, as the circle sees them: where to start and the ideas they got."""

    model_config = ConfigDict(frozen=True)

    start_step: str
    start_level: str
    ideas: list[str] = Field(default_factory=list)  # activity ids, best first


class Member(BaseModel):
    """A member as the others see them."""

    model_config = ConfigDict(frozen=True)

    key: str  # an opaque id for buttons (remove): never the user id
    label: str  # "" when skipped: shown as the role's words, in each reader's language
    role: Role
    me: bool = False
    view: View | None = None
    digest: bool = False

    @property
    def where(self) -> Where:
        """The setting of this member's tries."""
        return setting_of(self.role)


class Try(BaseModel):
    """One logged try: who (by label), where, which idea, how it went, on which day."""

    model_config = ConfigDict(frozen=True)

    label: str
    role: Role = "carer"  # for a label left empty: the role's words, in the reader's language
    where: Where
    activity: str
    outcome: Outcome
    on: dt.date
    mine: bool = False


class CircleView(BaseModel):
    """The circle this user belongs to, as they may see it."""

    model_config = ConfigDict(frozen=True)

    child: str | None = None  # the nickname the owner gave, if any
    age_band: str | None = None
    members: list[Member]
    tries: list[Try] = Field(default_factory=list)  # newest first
    news: list[Try] = Field(default_factory=list)  # others' tries since this member's last digest

    @property
    def me(self) -> Member:
        """This user's own membership."""
        return next(m for m in self.members if m.me)

    @property
    def owner(self) -> Member:
        """The member who set the circle up."""
        return next(m for m in self.members if m.role == "owner")


class Invitation(BaseModel):
    """What an invite code opens: only when it can still be used (else `usable` is False and
    nothing else is filled in, whatever the reason: unknown, used, expired or the person's own)."""

    model_config = ConfigDict(frozen=True)

    code: str
    usable: bool
    inviter: str = ""  # the owner's label
    role: Role = "carer"
    label: str = ""  # the label the invitee will have
    child: str | None = None
    age_band: str | None = None


class World(BaseModel):
    """What the service read from the store for this event (only for the events that need it)."""

    model_config = ConfigDict(frozen=True)

    circle: CircleView | None = None
    invitation: Invitation | None = None
    fresh_code: str | None = None  # a new random invite code, if this event makes an invite


@dataclass(frozen=True)
class Departure:
    """A member who left: whom to tell (the owner, in their language), and how to name the leaver."""

    owner_id: str
    owner_language: str
    label: str
    role: str
