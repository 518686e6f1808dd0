"""The labelled messages the safety model learns from and is measured on (content/safety/examples).

Three folders, split once: `train` (learned from; staff add new examples here), `dev` (thresholds
are tuned on it) and `test` (frozen: the figures of `neuroseq safety eval`; never edited to
answer a miss). Near-duplicates of one message are kept in one split, and the content check
refuses a message that stands in two splits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neuroseq_core.content.yamlio import ContentError, display_name, line_of, read_folder, validate
from neuroseq_core.safety.words import CATEGORIES, CategoryId, normalise

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
Speaker = Literal["child", "adult_about_child", "adult_self", "adult_about_adult"]
Tier = Literal["clear", "check"]


class Example(BaseModel):
    """One labelled message: its categories (none for a safe message), tier and speaker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=4096)
    lang: Literal["en", "es"]
    region: str = "any"
    labels: list[CategoryId] = Field(default_factory=list)
    tier: Tier | None = None
    speaker: Speaker | None = None
    kind: str = ""

    @model_validator(mode="after")
    def _danger_has_tier_and_speaker(self) -> Example:
        # A danger example's speaker may be left out when it is not known (the speaker model then
        # does not learn from it); its tier may not.
        if self.labels and self.tier is None:
            raise ValueError("a danger example needs a tier: clear or check")
        if not self.labels and (self.tier is not None or self.speaker is not None):
            raise ValueError("a safe example (labels: []) has no tier or speaker")
        return self

    @property
    def is_danger(self) -> bool:
        """The message needs help (either tier)."""
        return bool(self.labels)

    @property
    def hard(self) -> bool:
        """A safe message that looks like danger (kind: hard)."""
        return not self.labels and self.kind == "hard"


class ExampleFile(BaseModel):
    """A file of examples, written from one brief."""

    model_config = ConfigDict(extra="forbid")

    brief: str = ""
    examples: list[Example]


@dataclass(frozen=True)
class Labelled:
    """An example with where it came from."""

    example: Example
    split: Split
    file: str
    line: int


_NON_ALNUM = re.compile(r"[^a-z0-9 ]")


def near_key(text: str) -> str:
    """Messages with the same key are near-duplicates: same words once folded, numbers aside."""
    words = _NON_ALNUM.sub("", normalise(text)).split()
    # A message of only digits or emoji ("8", "🙏") is its own key: they are not alike.
    return " ".join(w for w in words if not w.isdigit()) or text.strip()


def load_examples(content_dir: Path, errors: list[ContentError]) -> list[Labelled]:
    """Every example under content/safety/examples/<split>/; problems become errors at file and line."""
    out: list[Labelled] = []
    for split in SPLITS:
        for _path, name, data in read_folder(content_dir, f"safety/examples/{split}", errors):
            parsed = validate(ExampleFile, data, name, errors)
            if parsed is None:
                continue
            for i, ex in enumerate(parsed.examples):
                out.append(Labelled(ex, split, name, line_of(data, ["examples", i])))
    return out


def check_examples(examples: list[Labelled], content_dir: Path) -> list[ContentError]:
    """The corpus is usable: a message in one split only, and enough of every category and language."""
    errors: list[ContentError] = []
    seen: dict[str, Labelled] = {}
    for item in examples:
        key = near_key(item.example.text)
        first = seen.get(key)
        if first is None:
            seen[key] = item
            continue
        if first.split != item.split:
            message = (
                f"this message is also in the {first.split} split ({first.file}:{first.line}): "
                "keep near-duplicates in one split"
            )
            errors.append(ContentError(item.file, item.line, message))
        elif set(first.example.labels) != set(item.example.labels):
            message = f"the same message is labelled differently at {first.file}:{first.line}"
            errors.append(ContentError(item.file, item.line, message))
    train = [e for e in examples if e.split == "train"]
    where = display_name(content_dir / "safety" / "examples" / "train", content_dir)
    for lang in ("en", "es"):
        for category in CATEGORIES:
            n = sum(1 for e in train if e.example.lang == lang and category in e.example.labels)
            if n < 10:
                message = f"only {n} {lang} training examples of {category}: the model needs at least 10"
                errors.append(ContentError(where, 1, message))
        if not any(e.example.lang == lang and not e.example.labels for e in train):
            errors.append(ContentError(where, 1, f"no safe {lang} training examples (labels: [])"))
    return errors
