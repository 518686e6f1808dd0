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


Effect = Count | Remind | CancelReminders | DeleteUser | SaveProfile
