"""Content models: everything staff edit in content/, validated by pydantic."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LevelId = Literal["sensory", "self_regulation", "relational", "cognitive"]
StepId = Literal["regulate", "relate", "reason"]
# "unknown": no answer at that level (all skipped, or not asked yet) — never read as steady.
Band = Literal["on_track", "some_support", "more_support", "unknown"]
Role = Literal["caregiver", "educator"]
Setting = Literal["home", "classroom", "outdoors"]
Group = Literal["one", "class"]
SixR = Literal["relational", "relevant", "repetitive", "rewarding", "rhythmic", "respectful"]
# What a carer's answers can say a child needs most; questions and activities are tagged with these.
NeedId = Literal[
    "sleep",
    "senses",
    "alarm",
    "movement",
    "eating",
    "meltdowns",
    "shutdown",
    "transitions",
    "connection",
    "play",
    "peers",
    "attention",
    "feelings",
]
# What an idea asks of a child that some find hard; an answer can keep such ideas away.
UseId = Literal["touch", "loud", "eye_contact", "food"]

LEVEL_ORDER: tuple[LevelId, ...] = ("sensory", "self_regulation", "relational", "cognitive")
STEP_ORDER: tuple[StepId, ...] = ("regulate", "relate", "reason")
BAND_ORDER: tuple[Band, ...] = ("on_track", "some_support", "more_support")  # "unknown" is apart

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
    avoid: list[UseId] = Field(default_factory=list)  # ideas that ask this are kept away


class QuestionVariant(Strict):
    """The question's wording for some age bands, where the base wording would not fit."""

    age_bands: list[str] = Field(min_length=1)
    text: Localized


class Question(Strict):
    """One question about one level of the sequence."""

    id: str
    level: LevelId
    text: Localized
    options: list[Option] = Field(min_length=2, max_length=8)
    age_bands: list[str] | None = None  # None: asked for every age band
    core: bool = False  # asked first, before the first idea; the rest only when the carer asks for more
    needs: list[NeedId] = Field(default_factory=list)
    topic: Localized | None = None  # 1-3 words: "Tell me more about sleep?"
    variants: list[QuestionVariant] = Field(default_factory=list)

    def text_for(self, age_band: str | None) -> Localized:
        """The wording for an age band: the last variant that names it, else the base."""
        chosen = self.text
        for v in self.variants:
            if age_band in v.age_bands:
                chosen = v.text
        return chosen


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


class ActivityTextPatch(Strict):
    """The fields of an activity's words that a variant changes."""

    title: str | None = None
    why: str | None = None
    steps: list[str] | None = Field(default=None, min_length=1)
    materials: list[str] | None = None


class ActivityVariant(Strict):
    """Wording for some settings and/or age bands, laid over the base where the base would not fit."""

    settings: list[Setting] | None = None
    age_bands: list[str] | None = None
    text: dict[str, ActivityTextPatch]

    @model_validator(mode="after")
    def _names_where(self) -> ActivityVariant:
        if not self.settings and not self.age_bands:
            raise ValueError("a variant names settings, age_bands, or both")
        return self

    def matches(self, setting: str, age_band: str) -> bool:
        """This variant is for that setting and age band."""
        return (not self.settings or setting in self.settings) and (
            not self.age_bands or age_band in self.age_bands
        )


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
    needs: list[NeedId] = Field(default_factory=list, max_length=3)  # what it answers, most direct first
    uses: list[UseId] = Field(default_factory=list)
    text: dict[str, ActivityText]
    variants: list[ActivityVariant] = Field(default_factory=list)

    def text_for(self, language: str, default_language: str, setting: str, age_band: str) -> ActivityText:
        """The words for one reader: the base, with every matching variant's fields laid over it."""
        base = self.text.get(language) or self.text[default_language]
        fields = base.model_dump()
        for v in self.variants:
            patch = v.text.get(language) if language in self.text else v.text.get(default_language)
            if patch is not None and v.matches(setting, age_band):
                fields.update({k: val for k, val in patch.model_dump().items() if val is not None})
        return ActivityText(**fields)


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
    reason: str | None = None  # rules sharing a reason fire at most once: the first that holds
    regions: list[str] | None = None  # only for users in these regions (a route that exists there)
    carers: list[Literal["parent", "foster"]] | None = None  # only for these caregivers (foster care)
    last_verified: dt.date | None = None  # when the message names a service: when it was last checked


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
    age_bands: list[str] | None = None  # None: a moment of every age (homework is not)


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


class TypedWords(Strict):
    """What people type instead of tapping (content/typed.yaml), per language."""

    choices: dict[str, dict[str, list[str]]] = Field(default_factory=dict)  # button id -> language -> words
    languages: dict[str, list[str]] = Field(default_factory=dict)  # language -> words that switch to it
    panic: dict[str, list[str]] = Field(default_factory=dict)  # language -> words of a hard moment


class StyleWords(Strict):
    """Words that do not fit a reader (content/style.yaml), enforced by the content check."""

    settings: dict[Setting, dict[str, list[str]]] = Field(
        default_factory=dict
    )  # setting -> language -> words
    ages: dict[str, dict[str, list[str]]] = Field(default_factory=dict)  # age band -> language -> words
    spanish: list[str] = Field(default_factory=list)
