"""The labelled evaluation set: recall per category and the false-positive rate of the safety screen."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from neuroseq_core.safety import CATEGORIES, SafetyScreen

ROOT = Path(__file__).resolve().parents[1]
EVAL = Path(__file__).with_name("safety_eval.yaml")
MIN_RECALL = 0.95
MAX_FALSE_POSITIVES = 0.05


@pytest.fixture(scope="module")
def screen() -> SafetyScreen:
    screen, errors = SafetyScreen.load(ROOT / "content")
    assert not [e for e in errors if not e.warning], errors
    return screen


def _cases() -> list[tuple[str, str, str]]:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    return [
        (lang, label, text)
        for lang, by_label in data.items()
        for label, texts in by_label.items()
        for text in texts
    ]


def test_eval_set_is_big_enough_and_well_labelled() -> None:
    cases = _cases()
    labels = Counter(label for _, label, _ in cases)
    assert set(labels) == {*CATEGORIES, "none"}
    assert len(cases) >= 170
    assert all(labels[c] >= 20 for c in CATEGORIES), labels
    assert labels["none"] >= 70
    assert sum(1 for lang, _, _ in cases if lang == "es") >= 30
    assert len({text for _, _, text in cases}) == len(cases), "duplicate messages in the eval set"


def test_recall_and_false_positive_rate(screen: SafetyScreen) -> None:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    misses: list[str] = []
    for lang, label, text in _cases():
        got = screen.screen(text, lang) or "none"
        totals[label] += 1
        if got == label:
            hits[label] += 1
        else:
            misses.append(f"  [{lang}] expected {label}, got {got}: {text}")
    recall = {c: hits[c] / totals[c] for c in CATEGORIES}
    false_positive_rate = 1 - hits["none"] / totals["none"]
    report = "\n".join(
        [
            "safety eval:",
            *(f"  recall {c:<26} {recall[c]:.3f} ({hits[c]}/{totals[c]})" for c in CATEGORIES),
            f"  false positives {false_positive_rate:.3f} ({totals['none'] - hits['none']}/{totals['none']})",
            "misses:" if misses else "misses: none",
            *misses,
        ]
    )
    print(report)
    low = {c: r for c, r in recall.items() if r < MIN_RECALL}
    assert not low and false_positive_rate <= MAX_FALSE_POSITIVES, report
