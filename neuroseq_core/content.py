"""Loading content/ into one checked, immutable Content object; holding the live one."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, TypeVar

from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from neuroseq_core.events import Reply
from neuroseq_core.models import (
    Activity,
    AgeBand,
    LanguageConfig,
    Question,
    Questionnaire,
    ReferralRule,
    Region,
    Sequence,
)
from neuroseq_core.render import render
from neuroseq_core.yamlio import ContentError, LineDict, LineList, YamlError, line_of, load_yaml

M = TypeVar("M", bound=BaseModel)


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
    safety: Any  # neuroseq_core.safety.SafetyScreen
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
        """The template source of a message, falling back to the default language."""
        lang = self.messages.get(language, {})
        if message_id in lang:
            return lang[message_id]
        return self.messages[self.default_language][message_id]

    def text(self, message_id: str, language: str, /, **context: Any) -> Markup:
        """Render a message in a language."""
        return render(self.template(message_id, language), context)

    def notice(self, message_id: str, language: str | None = None) -> Reply:
        """A fixed notice (no session), e.g. for group chats."""
        lang = self.language(language)
        return Reply(text=self.text(message_id, lang), kind="notice")

    def text_of(self, value: dict[str, str], language: str, /, **context: Any) -> Markup:
        """Render a localised template held in content data (e.g. a question's text)."""
        return render(self.local(value, language), context)

    def local(self, value: dict[str, str], language: str) -> str:
        """Pick a localised string, falling back to the default language."""
        return value.get(language) or value[self.default_language]


class ContentHolder:
    """The live content; /reload swaps it atomically (readers take a reference per update)."""

    def __init__(self, content: Content) -> None:
        self._content = content
        self._lock = threading.Lock()

    @property
    def current(self) -> Content:
        """The content to use for this update."""
        return self._content

    def swap(self, content: Content) -> None:
        """Put new, checked content live."""
        with self._lock:
            self._content = content


def _validate(
    model: type[M], data: Any, file: str, errors: list[ContentError], prefix: tuple[Any, ...] = ()
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = line_of(data, loc)
            where = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
            errors.append(ContentError(file, line, f"{where}: {err['msg']}"))
        return None


def _read(root: Path, rel: str, errors: list[ContentError]) -> Any:
    path = root / rel
    if not path.exists():
        errors.append(ContentError(rel, 1, "this file is missing"))
        return None
    try:
        return load_yaml(path, root)
    except YamlError as exc:
        errors.append(exc.error)
        return None


def _yaml_files(root: Path, folder: str) -> list[Path]:
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*.yaml") if p.is_file())


def _items(data: Any, key: str, file: str, errors: list[ContentError]) -> Iterable[tuple[int, Any, int]]:
    if not isinstance(data, dict) or key not in data:
        errors.append(ContentError(file, getattr(data, "line", 1), f"expected a top-level `{key}:` list"))
        return []
    items = data[key]
    if not isinstance(items, list):
        errors.append(ContentError(file, line_of(data, [key]), f"`{key}` must be a list"))
        return []
    lines = items.item_lines if isinstance(items, LineList) else [1] * len(items)
    return [(i, item, lines[i]) for i, item in enumerate(items)]


def load_content(root: Path | None = None) -> tuple[Content | None, list[ContentError]]:
    """Load and fully check a content folder; returns (content or None, errors and warnings)."""
    from neuroseq_core.check import check_content  # the checker needs the loaded objects
    from neuroseq_core.resources import load_regions
    from neuroseq_core.safety import SafetyScreen

    root = Path(root) if root else default_content_dir()
    errors: list[ContentError] = []
    if not root.is_dir():
        return None, [ContentError(str(root), 1, "the content folder does not exist")]
    sources: dict[str, tuple[str, int]] = {}

    raw = _read(root, "languages.yaml", errors)
    languages = _validate(LanguageConfig, raw, "languages.yaml", errors) if raw is not None else None

    raw = _read(root, "sequence.yaml", errors)
    sequence = _validate(Sequence, raw, "sequence.yaml", errors) if raw is not None else None

    age_bands: dict[str, AgeBand] = {}
    raw = _read(root, "age_bands.yaml", errors)
    if raw is not None:
        for i, item, line in _items(raw, "age_bands", "age_bands.yaml", errors):
            band = _validate(AgeBand, item, "age_bands.yaml", errors, ("age_bands", i))
            if band is None:
                continue
            if band.id in age_bands:
                errors.append(ContentError("age_bands.yaml", line, f"age band id '{band.id}' is used twice"))
            age_bands[band.id] = band
            sources[f"age_band:{band.id}"] = ("age_bands.yaml", line)

    questionnaires: dict[str, Questionnaire] = {}
    questions: dict[str, Question] = {}
    for path in _yaml_files(root, "questionnaires"):
        rel = str(path.relative_to(root))
        try:
            data = load_yaml(path, root)
        except YamlError as exc:
            errors.append(exc.error)
            continue
        qn = _validate(Questionnaire, data, rel, errors)
        if qn is None:
            continue
        if qn.id in questionnaires:
            errors.append(
                ContentError(rel, getattr(data, "line", 1), f"questionnaire id '{qn.id}' is used twice")
            )
        questionnaires[qn.id] = qn
        sources[f"questionnaire:{qn.id}"] = (rel, getattr(data, "line", 1))
        qlist = data["questions"]
        for i, q in enumerate(qn.questions):
            qline = qlist.item_lines[i] if isinstance(qlist, LineList) else 1
            if q.id in questions:
                errors.append(
                    ContentError(rel, qline, f"question id '{q.id}' is used twice; ids must be unique")
                )
            questions[q.id] = q
            sources[f"question:{q.id}"] = (rel, qline)
            item = qlist[i]
            if isinstance(item, LineDict):
                opts = item.get("options")
                for j, opt in enumerate(q.options):
                    oline = opts.item_lines[j] if isinstance(opts, LineList) else qline
                    sources[f"option:{q.id}:{opt.id}"] = (rel, oline)

    activities: dict[str, Activity] = {}
    for path in _yaml_files(root, "activities"):
        rel = str(path.relative_to(root))
        try:
            data = load_yaml(path, root)
        except YamlError as exc:
            errors.append(exc.error)
            continue
        for i, item, line in _items(data, "activities", rel, errors):
            act = _validate(Activity, item, rel, errors, ("activities", i))
            if act is None:
                continue
            if act.id in activities:
                errors.append(ContentError(rel, line, f"activity id '{act.id}' is used twice"))
            activities[act.id] = act
            sources[f"activity:{act.id}"] = (rel, line)

    referrals: list[ReferralRule] = []
    raw = _read(root, "referrals.yaml", errors)
    if raw is not None:
        for i, item, line in _items(raw, "rules", "referrals.yaml", errors):
            rule = _validate(ReferralRule, item, "referrals.yaml", errors, ("rules", i))
            if rule is not None:
                referrals.append(rule)
                sources[f"referral:{rule.id}"] = ("referrals.yaml", line)

    messages: dict[str, dict[str, str]] = {}
    message_sources: dict[tuple[str, str], MessageSource] = {}
    messages_dir = root / "messages"
    if not messages_dir.is_dir():
        errors.append(ContentError("messages/", 1, "the messages folder is missing"))
    else:
        for lang_dir in sorted(p for p in messages_dir.iterdir() if p.is_dir()):
            lang = lang_dir.name
            table = messages.setdefault(lang, {})
            for path in sorted(lang_dir.rglob("*.yaml")):
                rel = str(path.relative_to(root))
                try:
                    data = load_yaml(path, root)
                except YamlError as exc:
                    errors.append(exc.error)
                    continue
                if data is None:
                    continue
                if not isinstance(data, dict):
                    errors.append(ContentError(rel, 1, "a messages file must map message ids to text"))
                    continue
                for key, value in data.items():
                    kline = data.key_lines.get(key, 1) if isinstance(data, LineDict) else 1
                    if not isinstance(value, str):
                        errors.append(ContentError(rel, kline, f"message '{key}' must be text"))
                        continue
                    if key in table:
                        first = message_sources[(lang, key)]
                        errors.append(
                            ContentError(
                                rel, kline, f"message '{key}' is also defined at {first.file}:{first.line}"
                            )
                        )
                    table[key] = value
                    message_sources[(lang, key)] = MessageSource(rel, kline)

    regions, region_errors = load_regions(root)
    errors.extend(region_errors)
    screen, safety_errors = SafetyScreen.load(root)
    errors.extend(safety_errors)

    if languages is None or sequence is None or any(not e.warning for e in errors):
        return None, errors

    content = Content(
        root=root,
        languages=languages,
        sequence=sequence,
        age_bands=age_bands,
        questionnaires=questionnaires,
        questions=questions,
        activities=activities,
        referrals=referrals,
        messages=messages,
        message_sources=message_sources,
        regions=regions,
        safety=screen,
        sources=sources,
    )
    problems = check_content(content)
    errors.extend(problems)
    content.warnings = [e for e in errors if e.warning]
    if any(not e.warning for e in errors):
        return None, errors
    return content, errors


def load_or_raise(root: Path | None = None) -> Content:
    """Load content for serving; raise ContentInvalid (with every error) if anything is wrong."""
    content, errors = load_content(root)
    if content is None:
        raise ContentInvalid([e for e in errors if not e.warning])
    return content
