"""The labelled corpus and the frozen test split: what `neuroseq safety eval` reports.

The test split is never learned from and never tuned on. The floors asserted here are what the
shipped model reaches on it (docs/safety.md has the figures); the issue's targets are higher and
are reported there, not hidden by a lowered assertion elsewhere.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from neuroseq_core.safety import CATEGORIES, SafetyScreen
from neuroseq_core.safety.evaluate import evaluate
from neuroseq_core.safety.examples import load_examples, near_key
from neuroseq_core.safety.screen import learning_set

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def examples():  # type: ignore[no-untyped-def]
    errors: list = []
    out = load_examples(ROOT / "content", errors)
    assert not errors, [str(e) for e in errors]
    return out


def test_corpus_is_big_varied_and_split_once(examples) -> None:  # type: ignore[no-untyped-def]
    assert len(examples) >= 3000
    danger = [e for e in examples if e.example.labels]
    safe = [e for e in examples if not e.example.labels]
    hard = [e for e in examples if e.example.hard]
    assert len(safe) >= len(danger) and len(hard) >= len(danger) * 0.7
    for lang in ("en", "es"):
        for split in ("train", "dev", "test"):
            counts = Counter(
                c for e in examples if e.split == split and e.example.lang == lang for c in e.example.labels
            )
            assert all(counts[c] >= 20 for c in CATEGORIES), (lang, split, counts)
    # Near-duplicates never straddle two splits.
    split_of: dict[str, set[str]] = {}
    for e in examples:
        split_of.setdefault(near_key(e.example.text), set()).add(e.split)
    assert all(len(s) == 1 for s in split_of.values())


def test_the_model_never_learns_from_the_test_split(examples) -> None:  # type: ignore[no-untyped-def]
    learned = learning_set(examples)
    assert learned and all(e.split != "test" for e in learned)
    assert len(learned) + sum(1 for e in examples if e.split == "test") == len(examples)


def test_frozen_test_split_figures(examples) -> None:  # type: ignore[no-untyped-def]
    screen, errors = SafetyScreen.load(ROOT / "content")
    assert not [e for e in errors if not e.warning]
    tallies = evaluate(screen, [e for e in examples if e.split == "test"])
    overall = tallies[("all", "all")]
    assert overall.danger >= 350 and overall.safe >= 350
    assert overall.recall >= 0.90, overall
    assert overall.hard_rate <= 0.05, overall
    for lang in ("en", "es"):
        assert tallies[(lang, "all")].recall >= 0.88, (lang, tallies[(lang, "all")])
    for category in CATEGORIES:
        assert tallies[("all", category)].recall >= 0.85, (category, tallies[("all", category)])


def test_safety_commands_print_the_contract() -> None:
    from cli import run_cli

    out = run_cli(
        ["safety", "check"],
        "I want to kill myself tonight\nwe baked a cake\ni dont know how much longer i can do this\n",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "suicide_self_harm\tI want to kill myself tonight",
        "none\twe baked a cake",
        "check:caregiver_breaking_point\ti dont know how much longer i can do this",
    ]
    out = run_cli(["safety", "eval"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("safety screen on the test split (")
    assert lines[1].split() == ["language", "slice", "n", "recall", "right", "hardFP", "softFP"]
    for lang in ("all", "en", "es"):
        for category in CATEGORIES:
            row = next(line for line in lines if line.split()[:2] == [lang, category])
            recall, right = (float(x) for x in row.split()[3:5])
            assert 0.0 <= recall <= 1.0 and 0.0 <= right <= 1.0
