"""Loading content/ into one checked, immutable Content object; holding the live one."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from neuroseq_core.content.check import check_content
from neuroseq_core.content.model import Content, ContentInvalid, MessageSource, default_content_dir
from neuroseq_core.content.resources import load_regions
from neuroseq_core.content.yamlio import (
    ContentError,
    LineDict,
    LineList,
    M,
    YamlError,
    line_of,
    load_yaml,
    read_folder,
    validate,
)
from neuroseq_core.domain.models import (
    Activity,
    AgeBand,
    DosePoint,
    HelpNowLook,
    LanguageConfig,
    Question,
    Questionnaire,
    ReferralRule,
    Sequence,
    StyleWords,
    TypedWords,
)
from neuroseq_core.safety import SafetyScreen


class ContentHolder:
    """The live content; /reload swaps it atomically (readers take a reference per update)."""

    def __init__(self, content: Content, root: Path | None = None) -> None:
        self._content = content
        self._lock = threading.Lock()
        self.root = root  # the folder /reload reads again (None: the shipped content)

    @property
    def current(self) -> Content:
        """The content to use for this update."""
        return self._content

    def swap(self, content: Content) -> None:
        """Put new, checked content live."""
        with self._lock:
            self._content = content

    def reload(self) -> list[ContentError]:
        """Load and check the folder again; swap it in only if it has no errors. Returns every problem.

        Sessions hold ids, never content objects, so a conversation in flight simply reads the new
        content on its next update (the engine copes with ids that are gone).
        """
        content, errors = load_content(self.root)
        if content is not None:
            self.swap(content)
        return errors


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


def _optional(root: Path, rel: str, model: type[M], errors: list[ContentError]) -> M:
    """A file content may leave out (then every field's default), checked when it is there."""
    if not (root / rel).exists():
        return model()
    raw = _read(root, rel, errors)
    checked = validate(model, raw, rel, errors) if raw is not None else None
    return checked if checked is not None else model()


class _Collector:
    """Validates items into dicts by id, remembering where each was written; ids must be unique."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = errors
        self.sources: dict[str, tuple[str, int]] = {}

    def add(self, into: dict[str, Any], kind: str, obj: Any, file: str, line: int) -> None:
        """Keep one validated object (it has an `id`)."""
        if obj.id in into:
            self.errors.append(
                ContentError(file, line, f"{kind.replace('_', ' ')} id '{obj.id}' is used twice")
            )
        into[obj.id] = obj
        self.sources[f"{kind}:{obj.id}"] = (file, line)

    def items(self, model: type[M], data: Any, key: str, kind: str, file: str, into: dict[str, Any]) -> None:
        """Every item of a top-level list `key`."""
        for i, item, line in _items(data, key, file, self.errors):
            obj = validate(model, item, file, self.errors, (key, i))
            if obj is not None:
                self.add(into, kind, obj, file, line)


def load_content(root: Path | None = None) -> tuple[Content | None, list[ContentError]]:
    """Load and fully check a content folder; returns (content or None, errors and warnings)."""
    root = Path(root) if root else default_content_dir()
    errors: list[ContentError] = []
    if not root.is_dir():
        return None, [ContentError(str(root), 1, "the content folder does not exist")]
    collect = _Collector(errors)

    raw = _read(root, "languages.yaml", errors)
    languages = validate(LanguageConfig, raw, "languages.yaml", errors) if raw is not None else None

    raw = _read(root, "sequence.yaml", errors)
    sequence = validate(Sequence, raw, "sequence.yaml", errors) if raw is not None else None

    age_bands: dict[str, AgeBand] = {}
    raw = _read(root, "age_bands.yaml", errors)
    if raw is not None:
        collect.items(AgeBand, raw, "age_bands", "age_band", "age_bands.yaml", age_bands)

    questionnaires: dict[str, Questionnaire] = {}
    questions: dict[str, Question] = {}
    for _path, rel, data in read_folder(root, "questionnaires", errors):
        qn = validate(Questionnaire, data, rel, errors)
        if qn is None:
            continue
        collect.add(questionnaires, "questionnaire", qn, rel, getattr(data, "line", 1))
        qlist = data["questions"]
        for i, q in enumerate(qn.questions):
            qline = qlist.item_lines[i]
            collect.add(questions, "question", q, rel, qline)
            opts = qlist[i]["options"]
            for j, opt in enumerate(q.options):
                collect.sources[f"option:{q.id}:{opt.id}"] = (rel, opts.item_lines[j])

    activities: dict[str, Activity] = {}
    for _path, rel, data in read_folder(root, "activities", errors):
        collect.items(Activity, data, "activities", "activity", rel, activities)

    referrals: dict[str, ReferralRule] = {}
    raw = _read(root, "referrals.yaml", errors)
    if raw is not None:
        collect.items(ReferralRule, raw, "rules", "referral", "referrals.yaml", referrals)

    help_now: dict[str, HelpNowLook] = {}
    raw = _read(root, "help_now.yaml", errors)
    if raw is not None:
        collect.items(HelpNowLook, raw, "looks", "help_now", "help_now.yaml", help_now)

    dose_points: dict[str, DosePoint] = {}
    raw = _read(root, "doses.yaml", errors)
    if raw is not None:
        collect.items(DosePoint, raw, "points", "dose_point", "doses.yaml", dose_points)

    typed = _optional(root, "typed.yaml", TypedWords, errors)
    style = _optional(root, "style.yaml", StyleWords, errors)

    messages: dict[str, dict[str, str]] = {}
    message_sources: dict[tuple[str, str], MessageSource] = {}
    if not (root / "messages").is_dir():
        errors.append(ContentError("messages/", 1, "the messages folder is missing"))
    else:
        for lang_dir in sorted(p for p in (root / "messages").iterdir() if p.is_dir()):
            lang = lang_dir.name
            table = messages.setdefault(lang, {})
            for _path, rel, data in read_folder(root, f"messages/{lang}", errors):
                if data is None:
                    continue
                if not isinstance(data, LineDict):
                    errors.append(ContentError(rel, 1, "a messages file must map message ids to text"))
                    continue
                for key, value in data.items():
                    kline = data.key_lines.get(key, 1)
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
        referrals=list(referrals.values()),
        messages=messages,
        message_sources=message_sources,
        regions=regions,
        safety=screen,
        help_now=help_now,
        dose_points=dose_points,
        typed=typed,
        style=style,
        sources=collect.sources,
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
