"""A user's conversation state: a pydantic model that round-trips through JSON with a version."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from neuroseq_core.domain.models import Band, LevelId, NeedId, StepId, UseId

SCHEMA_VERSION = 2


class LevelResult(BaseModel):
    """One level's band, from the answers (never shown as a number)."""

    model_config = ConfigDict(frozen=True)

    level: LevelId
    band: Band
    answered: int
    mean_concern: float


class Profile(BaseModel):
    """Where the answers place this child on the sequence."""

    model_config = ConfigDict(frozen=True)

    levels: list[LevelResult]
    start_level: LevelId
    start_step: StepId
    start_on_track: bool  # the starting step itself needs no support
    referrals: list[str] = Field(default_factory=list)  # referral rule ids that fired
    needs: dict[NeedId, float] = Field(default_factory=dict)  # what the answers say, strongest first
    avoid: list[UseId] = Field(default_factory=list)  # what the ideas should not ask of this child

    @property
    def known(self) -> bool:
        """At least one level was answered: there is something to go on."""
        return any(r.band != "unknown" for r in self.levels)

    def unknown_levels(self) -> list[LevelId]:
        """The levels with no answer."""
        return [r.level for r in self.levels if r.band == "unknown"]

    def band(self, level: str) -> Band:
        """The band of one level."""
        for result in self.levels:
            if result.level == level:
                return result.band
        return "unknown"


class SafetyMemory(BaseModel):
    """After a danger reply or question: only the categories, who seemed to speak, and when.

    Never the text. It lets the next message be read in context for a short while ("she's been
    planning how" after "she said she wants to die"), and answers the "anyone in danger?" buttons.
    """

    categories: list[str]
    speaker: str = "adult_self"
    poisoning: bool = False
    at: dt.datetime | None = None
    asking: bool = False  # the one-tap "is anyone in danger?" question is open: asked, not yet answered


class CheckinRecord(BaseModel):
    """One answered check-in: the day, how it went, and the ideas it asked about."""

    on: dt.date
    outcome: str
    ids: list[str] = Field(default_factory=list)


class PastRun(BaseModel):
    """The bands of an earlier run of the questions, for /progress to compare with."""

    on: dt.date
    bands: dict[str, Band]


class FollowUpLog(BaseModel):
    """What outlives one run of the questions: check-ins asked for and answered, earlier runs."""

    checkin_days: int | None = None
    checkin_ids: list[str] = Field(default_factory=list)  # the ideas the next check-in asks about
    checkins: list[CheckinRecord] = Field(default_factory=list)
    past: list[PastRun] = Field(default_factory=list)


class Returns(BaseModel):
    """Where to come back to after a pause or a side trip (help right now, a check-in)."""

    resume: str | None = None
    now_return: str | None = None
    checkin_return: str | None = None
    circle_return: str | None = None


# Each field says what a fresh start keeps: "user" is kept by /restart and /progress, "child" by
# /progress only (the same child and setting, answered again), anything else starts afresh. A new
# field must choose (a test holds every field to it), so no hand-kept list can silently drop one.
JsonDict = dict[str, JsonValue]
USER: JsonDict = {"keep": "user"}
CHILD: JsonDict = {"keep": "child"}
RUN: JsonDict = {"keep": "run"}


class Session(BaseModel):
    """Everything the bot remembers about one user's conversation: ids, choices, dates."""

    model_config = ConfigDict(validate_assignment=False)

    schema_version: int = Field(default=SCHEMA_VERSION, json_schema_extra=USER)
    user_id: str = Field(json_schema_extra=USER)
    language: str = Field(default="en", json_schema_extra=USER)
    state: str = Field(default="new", json_schema_extra=RUN)
    # token of the prompt now on screen (a press with another token is stale); seq counts prompts
    token: str = Field(default="", json_schema_extra=RUN)
    seq: int = Field(default=0, json_schema_extra=USER)
    prompt_point: str = Field(default="", json_schema_extra=RUN)  # what the token was made for
    # the stale token last answered with "that button is from earlier": its repeats are not answered
    stale_token: str | None = Field(default=None, json_schema_extra=RUN)

    consent: bool = Field(default=False, json_schema_extra=USER)
    region: str | None = Field(default=None, json_schema_extra=USER)
    role: Literal["caregiver", "educator"] | None = Field(default=None, json_schema_extra=CHILD)
    age_band: str | None = Field(default=None, json_schema_extra=CHILD)
    nickname: str | None = Field(default=None, json_schema_extra=CHILD)
    group: Literal["one", "class"] | None = Field(default=None, json_schema_extra=CHILD)
    minutes: int | None = Field(default=None, json_schema_extra=CHILD)
    setting: Literal["home", "classroom", "outdoors"] | None = Field(default=None, json_schema_extra=CHILD)
    carer: Literal["parent", "foster"] | None = Field(default=None, json_schema_extra=CHILD)  # caregivers
    nickname_asked: bool = Field(default=False, json_schema_extra=CHILD)
    followup: FollowUpLog = Field(default_factory=FollowUpLog, json_schema_extra=CHILD)

    questionnaire: str | None = Field(default=None, json_schema_extra=RUN)
    # question id -> option id; history holds states and questions, for /back
    answers: dict[str, str | None] = Field(default_factory=dict, json_schema_extra=RUN)
    history: list[str] = Field(default_factory=list, json_schema_extra=RUN)
    question_id: str | None = Field(default=None, json_schema_extra=RUN)
    counted_start: bool = Field(default=False, json_schema_extra=RUN)  # counted once a run
    # "core": the few questions before the first idea; "deep": more, where the core showed concern
    depth: Literal["core", "deep"] = Field(default="core", json_schema_extra=RUN)
    deep_levels: list[LevelId] = Field(default_factory=list, json_schema_extra=RUN)

    profile: Profile | None = Field(default=None, json_schema_extra=RUN)
    suggested: list[str] = Field(default_factory=list, json_schema_extra=RUN)
    completed_at: dt.datetime | None = Field(default=None, json_schema_extra=RUN)
    pending: str | None = Field(default=None, json_schema_extra=RUN)  # a confirm asked (delete)
    # The team around the child: the invite opened (until Join or Not now), who an invite being
    # made is for, and the idea a try is being logged for.
    circle_code: str | None = Field(default=None, json_schema_extra=RUN)
    circle_role: str | None = Field(default=None, json_schema_extra=RUN)
    circle_try: str | None = Field(default=None, json_schema_extra=RUN)
    returns: Returns = Field(default_factory=Returns, json_schema_extra=RUN)
    # the last danger reply or question, for a short while
    safety: SafetyMemory | None = Field(default=None, json_schema_extra=RUN)

    def fresh(self, keep: Literal["user", "child"]) -> Session:
        """A new run: keep what `keep` says (see USER and CHILD above), everything else afresh."""
        kept = ("user",) if keep == "user" else ("user", "child")
        values = {
            name: getattr(self, name)
            for name, info in type(self).model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("keep") in kept
        }
        return type(self)(**values).model_copy(deep=True)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Bring an older stored session up to the current schema."""
        if isinstance(data, dict):
            version = data.get("schema_version", 0)
            if version > SCHEMA_VERSION:
                raise ValueError(f"session schema {version} is newer than this code ({SCHEMA_VERSION})")
            data = dict(data)
            if version < 2:
                data = _from_v1(data)
            data["schema_version"] = SCHEMA_VERSION
        return data

    def to_json(self) -> str:
        """Serialise for storage."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Session:
        """Load from storage, upgrading old versions."""
        return cls.model_validate_json(raw)


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 kept follow-up state in an untyped `extra` dict, and `flow` and `effects` fields.
    extra = dict(data.pop("extra", None) or {})
    data.pop("flow", None)
    data.pop("effects", None)
    data.setdefault("prompt_point", extra.get("point", ""))
    data.setdefault("counted_start", bool(extra.get("counted_start", False)))
    data.setdefault(
        "returns",
        {k: extra.get(k) for k in ("resume", "now_return", "checkin_return")},
    )
    data.setdefault(
        "followup",
        {
            "checkin_days": extra.get("checkin_days"),
            "checkin_ids": extra.get("checkin_ids") or [],
            "checkins": extra.get("checkins") or [],
            "past": extra.get("past") or [],
        },
    )
    return data
