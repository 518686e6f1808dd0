"""A user's conversation state: a pydantic model that round-trips through JSON with a version."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neuroseq_core.models import Band, LevelId, StepId

SCHEMA_VERSION = 1


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

    def band(self, level: str) -> Band:
        """The band of one level."""
        for result in self.levels:
            if result.level == level:
                return result.band
        return "on_track"


class SafetyMemory(BaseModel):
    """After a danger reply or question: only the categories, who seemed to speak, and when.

    Never the text. It lets the next message be read in context for a short while ("she's been
    planning how" after "she said she wants to die"), and answers the "anyone in danger?" buttons.
    """

    categories: list[str]
    speaker: str = "adult_self"
    poisoning: bool = False
    at: dt.datetime | None = None


class Session(BaseModel):
    """Everything the bot remembers about one user's conversation: ids, choices, dates."""

    model_config = ConfigDict(validate_assignment=False)

    schema_version: int = SCHEMA_VERSION
    user_id: str
    language: str = "en"
    state: str = "new"
    token: str = ""  # token of the prompt now on screen; a press with another token is stale
    seq: int = 0  # counts prompts, to make tokens

    consent: bool = False
    role: Literal["caregiver", "educator"] | None = None
    region: str | None = None
    age_band: str | None = None
    nickname: str | None = None
    group: Literal["one", "class"] | None = None
    minutes: int | None = None
    setting: Literal["home", "classroom", "outdoors"] | None = None

    questionnaire: str | None = None
    answers: dict[str, str | None] = Field(default_factory=dict)  # question id -> option id
    history: list[str] = Field(default_factory=list)  # states/questions, for /back
    question_id: str | None = None

    profile: Profile | None = None
    suggested: list[str] = Field(default_factory=list)
    completed_at: dt.datetime | None = None
    pending: str | None = None  # a confirmation being asked (e.g. "delete")
    safety: SafetyMemory | None = None  # the last danger reply or question, for a short while

    extra: dict[str, Any] = Field(default_factory=dict)  # room for later flows

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Bring an older stored session up to the current schema."""
        if isinstance(data, dict):
            version = data.get("schema_version", 0)
            if version > SCHEMA_VERSION:
                raise ValueError(f"session schema {version} is newer than this code ({SCHEMA_VERSION})")
            data = dict(data)
            data["schema_version"] = SCHEMA_VERSION
        return data

    def to_json(self) -> str:
        """Serialise for storage."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Session:
        """Load from storage, upgrading old versions."""
        return cls.model_validate_json(raw)
