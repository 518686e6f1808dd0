"""What a step asks the service to do beside replying: typed values, carried out in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Count:
    """Add one to an anonymous counter (for /stats; no user id goes with it)."""

    name: str


@dataclass(frozen=True)
class Remind:
    """Schedule a reminder for this chat: a check-in or a progress offer, `after` from now."""

    kind: Literal["checkin", "progress"]
    after: dt.timedelta


@dataclass(frozen=True)
class CancelReminders:
    """Cancel every reminder this user has pending."""


@dataclass(frozen=True)
class DeleteUser:
    """Erase everything about this user (after their confirm)."""


@dataclass(frozen=True)
class SaveProfile:
    """Keep the profile just completed, with its date, for /progress."""


# ---- the team around the child (neuroseq_core.domain.circle) ----------------------------------------


@dataclass(frozen=True)
class StartCircle:
    """Set up a circle for this user's child, with the label the others will see for them."""

    label: str


@dataclass(frozen=True)
class Invite:
    """Keep an invite to this user's circle: single use, for INVITE_DAYS (the code is kept hashed)."""

    code: str
    role: str
    label: str


@dataclass(frozen=True)
class Join:
    """Join the circle this invite code opens (used up now; refused if someone used it first)."""

    code: str
    label: str  # the label the invite gives them, for the owner's notice ("" for the role's words)
    role: str


@dataclass(frozen=True)
class LogTry:
    """Add a try to this user's circle log, with their setting and the day (no circle: nothing)."""

    activity: str
    outcome: str


@dataclass(frozen=True)
class SetDigest:
    """At most one message a day when others logged something: on or off."""

    on: bool


@dataclass(frozen=True)
class DigestSent:
    """The daily note went out: the next one counts from now."""


@dataclass(frozen=True)
class LeaveCircle:
    """This member leaves the circle; what they logged there goes with them."""


@dataclass(frozen=True)
class RemoveMember:
    """The owner removes a member (by their key); what that member logged goes with them."""

    key: str


@dataclass(frozen=True)
class CloseCircle:
    """The owner closes the circle: members, invites and the log are deleted; members are told."""


Effect = (
    Count
    | Remind
    | CancelReminders
    | DeleteUser
    | SaveProfile
    | StartCircle
    | Invite
    | Join
    | LogTry
    | SetDigest
    | DigestSent
    | LeaveCircle
    | RemoveMember
    | CloseCircle
)
