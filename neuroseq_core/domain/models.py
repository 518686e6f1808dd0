"""Content models: everything staff edit in content/, validated by pydantic."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LevelId = Literal["sensory", "self_regulation", "relational", "cognitive"]
StepId = Literal["regulate", "relate", "reason"]
Band = Literal["on_track", "some_support", "more_support"]
Role = Literal["caregiver", "educator"]
Setting = Literal["home", "classroom", "outdoors"]
Group = Literal["one", "class"]
SixR = Literal["relational", "relevant", "repetitive", "rewarding", "rhythmic", "respectful"]

LEVEL_ORDER: tuple[LevelId, ...] = ("sensory", "self_regulation", "relational", "cognitive")
STEP_ORDER: tuple[StepId, ...] = ("regulate", "relate", "reason")
BAND_ORDER: tuple[Band, ...] = ("on_track", "some_support", "more_support")

# Localised text: language code -> text (a Jinja template where the field says so).
Localized = dict[str, str]


class Strict(BaseModel):
    """Base for content models: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageConfig(Strict):
    """Which languages the content is written in; the first is the default."""

    languages: list[str] = Field(min_length=1)
    default_language: str


class Step(Strict):
    """One step of the sequence of engagement: Regulate, Relate or Reason."""

    id: StepId
    name: Localized
    summary: Localized


class Level(Strict):
    """One level of the bottom-up sequence, with its plain-language name."""

    id: LevelId
    step: StepId
    name: Localized
    description: Localized


class Sequence(Strict):
    """The steps and levels, bottom-up."""

    steps: list[Step]
    levels: list[Level]


class Thresholds(Strict):
    """Mean concern (0-3) at or above which a level needs some / more support."""

    some_support: float = Field(ge=0, le=3)
    more_support: float = Field(ge=0, le=3)


class AgeBand(Strict):
    """An age band with its label and its per-level scoring thresholds."""

    id: str
    min_age: int = Field(ge=0)
    max_age: int = Field(ge=0)
    label: Localized
    thresholds: dict[LevelId, Thresholds]


class Option(Strict):
    """One answer option; concern runs 0 (fine) to 3 (most worried)."""

    id: str
    concern: int = Field(ge=0, le=3)
    label: Localized


class Question(Strict):
    """One question about one level of the sequence."""

    id: str
    level: LevelId
    text: Localized
    options: list[Option] = Field(min_length=2, max_length=8)
    age_bands: list[str] | None = None  # None: asked for every age band


class Questionnaire(Strict):
    """The ordered questions for one audience (caregiver, educator about one student, class)."""

    id: str
    role: Role
    group: Group
    questions: list[Question]


class ActivityText(Strict):
    """The words of an activity in one language."""

    title: str
    why: str  # why it helps, tied to its step
    steps: list[str] = Field(min_length=1)
    materials: list[str] = Field(default_factory=list)


class Activity(Strict):
    """One activity in the catalogue."""

    id: str
    levels: list[LevelId] = Field(min_length=1)
    age_bands: list[str] = Field(min_length=1)
    settings: list[Setting] = Field(min_length=1)
    groups: list[Group] = Field(default_factory=lambda: list[Group](["one"]))
    minutes: int = Field(ge=1, le=60)
    six_rs: list[SixR] = Field(min_length=1)
    source: str = ""  # the published material it draws on, by name
    text: dict[str, ActivityText]


class AnswerCondition(Strict):
    """A condition on one answer: the question was answered with one of these options."""

    question: str
    options: list[str] = Field(min_length=1)


class LevelCondition(Strict):
    """A condition on a level's band."""

    level: LevelId
    bands: list[Band] = Field(min_length=1)


class Condition(Strict):
    """Exactly one of: a level band, an answer, or any/all of nested conditions."""

    level: LevelCondition | None = None
    answer: AnswerCondition | None = None
    any: list[Condition] | None = None
    all: list[Condition] | None = None
    age_bands: list[str] | None = None  # optionally restrict to these age bands

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        kinds = [k for k in ("level", "answer", "any", "all") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a condition needs exactly one of: level, answer, any, all")
        return self


class ReferralRule(Strict):
    """When the answers call for it, a gentle prompt to talk to a professional."""

    id: str
    when: Condition
    message: str  # a message id in the messages files
    roles: list[Role] = Field(default_factory=lambda: list[Role](["caregiver", "educator"]))
    groups: list[Group] = Field(
        default_factory=lambda: list[Group](["one", "class"])
    )  # one child, or a whole class


class HelpNowLook(Strict):
    """Help right now: how a dysregulated child looks, and two or three steps from the bottom."""

    id: str
    label: Localized  # a short button label
    steps: list[Localized] = Field(min_length=2, max_length=3)  # the adult's steps, right now
    then: list[str] = Field(default_factory=list)  # regulating activity ids for a calmer moment


class DosePoint(Strict):
    """A transition point of the day where a short dose of an activity fits."""

    id: str
    label: Localized
    settings: list[Setting] = Field(min_length=1)
    levels: list[LevelId] = Field(min_length=1)  # the levels whose activities suit this moment


class Helpline(Strict):
    """One helpline or service in a region."""

    name: str
    categories: list[str] = Field(min_length=1)
    phone: str | None = None
    text: str | None = None
    web: str | None = None
    hours: str = ""
    languages: list[str] | None = None
    # Who the line is for: "child" (children and young people), "adult", or "any".
    audience: Literal["any", "child", "adult"] = "any"
    # "poisoning": offered in a medical reply only when the message speaks of swallowing or poison.
    when: Literal["poisoning"] | None = None
    last_verified: dt.date


class KnownNumber(Strict):
    """An emergency number shown before the user's country is known (e.g. 112 in Europe)."""

    number: str
    where: Localized


class Region(Strict):
    """A region's emergency number and helplines."""

    id: str
    name: Localized
    emergency: str
    languages: list[str]
    helplines: list[Helpline]
    # Only for the fallback region: numbers to show beside the regions' own before a region is known.
    known_numbers: list[KnownNumber] = Field(default_factory=list)
