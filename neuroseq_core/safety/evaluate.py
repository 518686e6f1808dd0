"""`neuroseq safety check` and `neuroseq safety eval`: the screen on standard input, and its figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from neuroseq_core.safety.examples import Labelled
from neuroseq_core.safety.screen import SafetyScreen, Verdict
from neuroseq_core.safety.words import CATEGORIES


@dataclass
class Tally:
    """Counts for one slice of examples (a category, a language, or all)."""

    danger: int = 0
    caught: int = 0
    right: int = 0
    safe: int = 0
    hard_fp: int = 0
    soft_fp: int = 0

    def add(self, labels: list[str], verdict: Verdict) -> None:
        """Count one example and what the screen said of it."""
        if labels:
            self.danger += 1
            if verdict.tier is not None:
                self.caught += 1
                self.right += verdict.category in labels
        else:
            self.safe += 1
            self.hard_fp += verdict.tier == "clear"
            self.soft_fp += verdict.tier == "check"

    @property
    def recall(self) -> float:
        """Share of dangers that got either tier."""
        return self.caught / self.danger if self.danger else 1.0

    @property
    def right_rate(self) -> float:
        """Share of caught dangers whose reply leads with a right category."""
        return self.right / self.caught if self.caught else 1.0

    @property
    def hard_rate(self) -> float:
        """Share of safe messages given the safety reply at once."""
        return self.hard_fp / self.safe if self.safe else 0.0

    @property
    def soft_rate(self) -> float:
        """Share of safe messages asked the gentle question."""
        return self.soft_fp / self.safe if self.safe else 0.0


def evaluate(screen: SafetyScreen, examples: Iterable[Labelled]) -> dict[tuple[str, str], Tally]:
    """Tallies keyed by (language or "all", category or "all" or "safe")."""
    out: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for item in examples:
        ex = item.example
        verdict = screen.verdict(ex.text)
        for lang in (ex.lang, "all"):
            out[(lang, "all")].add(list(ex.labels), verdict)
            for category in ex.labels:
                out[(lang, category)].add(list(ex.labels), verdict)
            if not ex.labels:
                out[(lang, "hard negatives" if ex.hard else "plain negatives")].add([], verdict)
    return out


def report(tallies: dict[tuple[str, str], Tally], title: str) -> str:
    """The figures as a table, one row per category and language."""
    rows = [title, f"{'language':<9}{'slice':<26}{'n':>6}{'recall':>8}{'right':>8}{'hardFP':>8}{'softFP':>8}"]
    langs = ["all", *sorted({lang for lang, _ in tallies} - {"all"})]
    for lang in langs:
        for name in ("all", *CATEGORIES, "hard negatives", "plain negatives"):
            t = tallies.get((lang, name))
            if t is None:
                continue
            if name.endswith("negatives"):
                rows.append(
                    f"{lang:<9}{name:<26}{t.safe:>6}{'':>8}{'':>8}{t.hard_rate:>8.3f}{t.soft_rate:>8.3f}"
                )
            elif name == "all":
                line = f"{lang:<9}{name:<26}{t.danger + t.safe:>6}{t.recall:>8.3f}{t.right_rate:>8.3f}"
                rows.append(line + f"{t.hard_rate:>8.3f}{t.soft_rate:>8.3f}")
            else:
                rows.append(f"{lang:<9}{name:<26}{t.danger:>6}{t.recall:>8.3f}{t.right_rate:>8.3f}")
    return "\n".join(rows)


def run_safety_check(stdin: TextIO, stdout: TextIO, screen: SafetyScreen) -> int:
    """Each input line gets its verdict (category, check:category or none), a tab, and the line."""
    for raw in stdin:
        message = raw.rstrip("\r\n")
        stdout.write(f"{screen.verdict(message).label}\t{message}\n")
    return 0
