"""The checked, immutable Content object every update reads (loaded by neuroseq_core.content.load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from neuroseq_core.content.render import render
from neuroseq_core.content.yamlio import (
    ContentError,
)
from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.models import (
    Activity,
    AgeBand,
    DosePoint,
    HelpNowLook,
    LanguageConfig,
    Question,
    Questionnaire,
    ReferralRule,
    Region,
    Sequence,
    StyleWords,
    TypedWords,
)
from neuroseq_core.safety import SafetyScreen


class ContentInvalid(Exception):
    """The content has errors; `errors` says where and what to fix."""

    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def default_content_dir() -> Path:
    """The content shipped with the package (works for editable and regular installs)."""
    return Path(str(importlib_resources.files("content")))


@dataclass(frozen=True)
class MessageSource:
    """Where a message template was written, for error messages."""

    file: str
    line: int


@dataclass
class Content:
    """Everything staff edit, validated and cross-checked."""

    root: Path
    languages: LanguageConfig
    sequence: Sequence
    age_bands: dict[str, AgeBand]
    questionnaires: dict[str, Questionnaire]
    questions: dict[str, Question]
    activities: dict[str, Activity]
    referrals: list[ReferralRule]
    messages: dict[str, dict[str, str]]  # language -> id -> template
    message_sources: dict[tuple[str, str], MessageSource]
    regions: dict[str, Region]
    safety: SafetyScreen
    help_now: dict[str, HelpNowLook] = field(default_factory=dict)
    dose_points: dict[str, DosePoint] = field(default_factory=dict)
    typed: TypedWords = field(default_factory=TypedWords)
    style: StyleWords = field(default_factory=StyleWords)
    warnings: list[ContentError] = field(default_factory=list)
    sources: dict[str, tuple[str, int]] = field(default_factory=dict)  # "kind:id" -> (file, line)

    @property
    def default_language(self) -> str:
        """The language used when the user's is not available."""
        return self.languages.default_language

    def language(self, wanted: str | None) -> str:
        """The best language we have for a Telegram language_code such as 'es-MX'."""
        if wanted:
            base = wanted.split("-")[0].split("_")[0].lower()
            if base in self.languages.languages:
                return base
        return self.default_language

    def has_message(self, message_id: str, language: str) -> bool:
        """True if the message exists in that language."""
        return message_id in self.messages.get(language, {})

    def template(self, message_id: str, language: str) -> str:
        """The template source of a message: in a regional variant ("es-ES") if it has its own
        wording, else in its language ("es"), else in the default language."""
        for lang in (language, language.split("-")[0], self.default_language):
            table = self.messages.get(lang, {})
            if message_id in table:
                return table[message_id]
        raise KeyError(message_id)

    def variant(self, language: str, region: str | None) -> str:
        """The regional variant of a language a user in `region` reads ("es-ES" in Spain), if the
        content has one; else the language itself."""
        candidate = f"{language}-{(region or '').upper()}"
        return candidate if region and candidate in self.messages else language

    def text(self, message_id: str, language: str, /, **context: Any) -> Markup:
        """Render a message in a language."""
        return render(self.template(message_id, language), context)

    def notice(self, message_id: str, language: str | None = None, /, **context: Any) -> Reply:
        """A notice outside any conversation (group chats, admin answers), in the nearest language."""
        lang = self.language(language)
        return Reply(text=self.text(message_id, lang, **context), kind="notice")

    def text_of(self, value: dict[str, str], language: str, /, **context: Any) -> Markup:
        """Render a localised template held in content data (e.g. a question's text)."""
        return render(self.local(value, language), context)

    def local(self, value: dict[str, str], language: str) -> str:
        """Pick a localised string, falling back to the default language."""
        return value.get(language) or value.get(language.split("-")[0]) or value[self.default_language]
