"""The safety screen: the lexicon (fast, precise) and the learned model (reads meaning), in two tiers.

A verdict is `clear` (the safety reply at once), `check` (one gentle question: "is anyone in
danger right now?") or none. Thresholds live in content/safety/model.yaml and are tuned on the
dev split only; the frozen test split is what `neuroseq safety eval` reports.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from neuroseq_core.content.yamlio import ContentError, YamlError, display_name, load_yaml, validate
from neuroseq_core.safety.examples import Labelled, Tier, check_examples, load_examples
from neuroseq_core.safety.lexicon import LexiconScreen
from neuroseq_core.safety.model import LinearModel, cache_dir, fingerprint
from neuroseq_core.safety.words import CATEGORIES

log = logging.getLogger(__name__)

SHORT_WORDS = 2


class ScreenConfig(BaseModel):
    """content/safety/model.yaml: how the model is trained and how its scores become a verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    c: float = Field(default=8.0, gt=0)  # inverse regularisation of the logistic outputs
    min_df: int = Field(default=2, ge=1)  # a feature must occur in this many examples
    clear: float = Field(default=0.7, ge=0, le=1)  # danger probability for the safety reply at once
    check: float = Field(default=0.3, ge=0, le=1)  # danger probability for the gentle question
    lexicon_clear: float = Field(default=0.5, ge=0, le=1)  # a lexicon match is clear above this, else check
    also: float = Field(default=0.6, ge=0, le=1)  # another category joins the reply above this
    context_minutes: int = Field(default=30, ge=0, le=240)  # how long a danger reply colours the next
    context: float = Field(default=0.5, ge=0, le=1)  # in that time, this much of the same is enough
    child_speaker: float = Field(default=0.6, ge=0, le=1)  # answered as a child only when this sure


@dataclass(frozen=True)
class Verdict:
    """What the screen found: a tier, the categories (most urgent first) and who seems to speak."""

    tier: Tier | None = None
    categories: tuple[str, ...] = ()
    speaker: str = "adult_self"
    poisoning: bool = False
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        """The category the reply leads with."""
        return self.categories[0] if self.categories else None

    @property
    def label(self) -> str:
        """The `neuroseq safety check` verdict: a category, check:<category>, or none."""
        if self.tier is None or not self.categories:
            return "none"
        return self.categories[0] if self.tier == "clear" else f"check:{self.categories[0]}"


def _ordered(found: set[str], lead: str) -> tuple[str, ...]:
    # The reply leads with the category read most surely, except that a body in danger now comes
    # first whenever it is found ("he strangled me and the kids saw": the emergency number first).
    first = "medical_emergency" if "medical_emergency" in found else lead
    return (first, *sorted(found - {first}, key=CATEGORIES.index))


class SafetyScreen:
    """Lexicon and model together; `verdict` is the one call the engine makes."""

    categories: tuple[str, ...] = CATEGORIES

    def __init__(self, lexicon: LexiconScreen, model: LinearModel | None, config: ScreenConfig) -> None:
        """A screen from its parts; without a model only the lexicon speaks (tests of the lexicon)."""
        self.lexicon = lexicon
        self.model = model
        self.config = config

    def verdict(self, text: str, recent: tuple[str, ...] = ()) -> Verdict:
        """Screen one message; `recent` are categories of a danger reply given in the last minutes."""
        cfg = self.config
        lex = self.lexicon.screen(text)
        poisoning = self.lexicon.poisoning(text)
        if self.model is None:
            return Verdict("clear", (lex,), poisoning=poisoning) if lex else Verdict(poisoning=poisoning)
        s = self.model.scores(text)
        probs = s.categories
        top = max(probs, key=lambda c: probs[c])
        lead = lex or top  # the lexicon is precise: the model never overrules a match
        tier: Tier | None = None
        if s.danger >= cfg.clear or (lex is not None and s.danger >= cfg.lexicon_clear):
            tier = "clear"
        elif lex is not None or (s.danger >= cfg.check and len(text.split()) > SHORT_WORDS):
            # One or two words without a lexicon match are answers and names ("Bee", "most
            # days"): too little to read meaning from, so only the reply at once can fire.
            tier = "check"
        for category in recent:  # "she's planning how" after "she wants to die": the same danger
            # In context a possible danger of the same kind is a clear one; an ordinary message
            # ("he hit the ball so hard today") stays ordinary.
            if tier == "check" and probs.get(category, 0.0) >= cfg.context:
                tier, lead = "clear", category
                break
        if tier is None:
            return Verdict(poisoning=poisoning, scores=probs)
        found = {c for c, p in probs.items() if p >= cfg.also} | {lead}
        if self.lexicon.medical_also(text):  # strangled: a doctor now, whatever else is going on
            found.add("medical_emergency")
        return Verdict(tier, _ordered(found, lead), s.speaker(cfg.child_speaker), poisoning, probs)

    @classmethod
    def load(cls, content_dir: Path) -> tuple[SafetyScreen, list[ContentError]]:
        """Lexicons, examples and config from content/safety; the model from cache or trained now."""
        lexicon, errors = LexiconScreen.load(content_dir)
        config = _load_config(content_dir, errors)
        examples = load_examples(content_dir, errors)
        if not examples:
            where = display_name(content_dir / "safety" / "examples", content_dir)
            errors.append(ContentError(where, 1, "no labelled examples: add safety/examples/train/*.yaml"))
            return cls(lexicon, None, config), errors
        errors.extend(check_examples(examples, content_dir))
        if any(not e.warning for e in errors):
            return cls(lexicon, None, config), errors
        return cls(lexicon, trained_model(examples, config, content_dir), config), errors


def _load_config(content_dir: Path, errors: list[ContentError]) -> ScreenConfig:
    path = content_dir / "safety" / "model.yaml"
    if not path.is_file():
        return ScreenConfig()
    try:
        data = load_yaml(path, content_dir)
    except YamlError as exc:
        errors.append(exc.error)
        return ScreenConfig()
    return validate(ScreenConfig, data, display_name(path, content_dir), errors) or ScreenConfig()


def learning_set(examples: list[Labelled]) -> list[Labelled]:
    """What the shipped model learns from: train and dev (never test)."""
    return [e for e in examples if e.split != "test"]


def trained_model(examples: list[Labelled], config: ScreenConfig, content_dir: Path) -> LinearModel:
    """The model for these examples: from the cache when it has one, else trained and cached."""
    learn = learning_set(examples)
    key = fingerprint(
        [config.model_dump_json().encode(), *(e.example.model_dump_json().encode() for e in learn)]
    )
    path = cache_dir() / f"safety-{key}.npz"
    try:
        model = LinearModel.load(path)
        os.utime(path)  # in use: not pruned
        return model
    except (OSError, ValueError, KeyError):
        pass  # not cached yet (or unreadable): train
    from neuroseq_core.safety.train import fit  # scikit-learn takes 1.4 s to import

    log.info("training the safety model", extra={"examples": len(learn)})
    model = fit([e.example for e in learn], c=config.c, min_df=config.min_df)
    try:
        model.save(path)
        _prune(path)
    except OSError as exc:  # a read-only home still serves, it trains again next start
        log.warning("could not cache the safety model", extra={"error": type(exc).__name__})
    return model


def _prune(keep: Path, older_than: float = 30 * 86400) -> None:
    # Every change to the examples leaves a new file: drop those nobody has loaded for a month.
    cutoff = time.time() - older_than
    for old in keep.parent.glob("safety-*.npz"):
        if old != keep and max(old.stat().st_mtime, old.stat().st_atime) < cutoff:
            old.unlink(missing_ok=True)
