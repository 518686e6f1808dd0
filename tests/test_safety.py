"""The safety screen: normalisation, the pattern language, negation, priority, loading errors, robustness."""

from __future__ import annotations

import gc
import io
import re
import statistics
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroseq_core.safety import (
    CATEGORIES,
    LexiconScreen,
    PatternError,
    SafetyScreen,
    compile_pattern,
    normalise,
)
from neuroseq_core.safety.evaluate import run_safety_check

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def screen() -> LexiconScreen:
    screen, errors = LexiconScreen.load(ROOT / "content")
    assert not errors, [str(e) for e in errors]
    return screen


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("He's FINE", "hes fine"),
        ("I can’t cope", "i cant cope"),  # curly apostrophe
        ("Él está inconsciente, niño", "el esta inconsciente nino"),
        ("sooo tiiired!!!", "so tired"),
        ("I want to k1ll mys3lf", "i want to kil myself"),
        ("su1cide / $uicide", "suicide suicide"),
        ("d13", "die"),
        ("self-harm\nagain\r\n\tnow", "self harm again now"),
        ("she's 12yo, 3am, 2nd time", "shes 12yo 3am 2nd time"),  # digits that are not leet stay
        ("kill", "kil"),  # doubles squeezed, the same for patterns
        ("a_b", "a b"),
        ("  ", ""),
        ("😀 hi 😀", "hi"),
    ],
)
def test_normalise(raw: str, folded: str) -> None:
    assert normalise(raw) == folded


def test_normalise_keeps_other_scripts_as_words() -> None:
    assert normalise("שלום мир") == "שלום мир"


# --- the pattern language ----------------------------------------------------------------------


def _matches(pattern: str, text: str, lists: dict[str, list[str]] | None = None) -> bool:
    body, _ = compile_pattern(pattern, 3, lists)
    return re.compile("(?<= )(?:" + body + ")").search(f" {normalise(text)} ") is not None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("suicid*", "he is suicidal", True),
        ("suicid*", "a suicide note", True),
        ("suicid*", "nonsuicidal", False),  # whole words only
        ("want to * die", "i want to just die", True),
        ("want to * die", "i want to go out and then die", False),  # more than 3 words between
        ("want to *5 die", "i want to go out and then die", True),
        ("(hurt|hit) (him|my (son|daughter))", "i will hit my daughter", True),
        ("(hurt|hit) (him|my (son|daughter))", "i will hit my dog", False),
        ("(really )?tired", "tired", True),
        ("kill myself", "KILLLL MYSELF", True),
        ("can't cope", "cant cope", True),  # patterns are normalised like messages
        ("{adult} hits me", "my stepdad hits me", True),
        ("{adult} hits me", "my cat hits me", False),
    ],
)
def test_pattern_language(pattern: str, text: str, expected: bool) -> None:
    lists = {"adult": ["(my|his) (dad|stepdad)", "a man"]}
    assert _matches(pattern, text, lists) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(unclosed", "without its )"),
        ("closed)", "without its ("),
        ("a | b", "only separates alternatives"),
        ("* die", "between words"),
        ("die *", "not at the end"),
        ("want * * die", "between words"),
        ("want *9 die", "1 to 8"),
        ("(a|) b", "empty"),
        ("word?", "empty"),
        ("? word", "right after"),
        ("!!!", "no letters"),
        ("su*cide", "a * goes at the end"),
        ("{nolist} x", "is not a list"),
    ],
)
def test_bad_patterns_are_rejected(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern, 3, {})


# --- screening ---------------------------------------------------------------------------------


def test_categories_in_priority_order(screen: LexiconScreen) -> None:
    assert (
        screen.categories
        == CATEGORIES
        == (
            "medical_emergency",
            "suicide_self_harm",
            "child_at_risk",
            "domestic_violence",
            "caregiver_breaking_point",
        )
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm being forced to have sex and I'm only 12 years old", "child_at_risk"),  # the 2018 BBC test
        ("he's not suicidal, just tired", None),
        ("no one is hurting him", None),
        ("nobody is hurting her at home", None),
        ("she isn't unconscious, just fast asleep", None),
        ("I'm not going to hurt him, I just need a break", None),
        ("I'm not ok. I want to die", "suicide_self_harm"),  # a negation further back does not cancel
        ("no, he is not breathing", "medical_emergency"),  # the negation is part of the pattern
        ("I don't want to live anymore", "suicide_self_harm"),
        ("no es suicida, solo está cansado", None),
        ("nadie le está haciendo daño", None),
    ],
)
def test_negation(screen: LexiconScreen, text: str, expected: str | None) -> None:
    assert screen.screen(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to kill myself, I've swallowed all the pills", "medical_emergency"),
        ("my dad hits me and I want to die", "suicide_self_harm"),
        ("my husband hits me and he beats the kids with a belt", "child_at_risk"),
        ("I can't cope anymore, my partner hits me", "domestic_violence"),
        ("I can't cope anymore", "caregiver_breaking_point"),
    ],
)
def test_priority(screen: LexiconScreen, text: str, expected: str) -> None:
    assert screen.screen(text) == expected


def test_every_language_is_screened(screen: LexiconScreen) -> None:
    # A Spanish speaker may write English and the other way round; the answer does not depend on it.
    assert screen.screen("I want to die") == "suicide_self_harm"
    assert screen.screen("me quiero morir") == "suicide_self_harm"
    assert screen.screen("mi marido me pega") == screen.screen("mi marido me pega") == "domestic_violence"


def test_danger_deep_in_a_long_message(screen: LexiconScreen) -> None:
    filler = "We had a long day at school and the bus was late again. " * 60
    assert screen.screen(filler + "Honestly I just want to die." + filler) == "suicide_self_harm"
    assert screen.screen(filler) is None


def test_screen_is_fast_enough(screen: LexiconScreen) -> None:
    # bench/bench_safety.py measures properly; this only catches a large regression.
    text = ("My son melts down after school and hides under the table, the teacher says he is fine. " * 60)[
        :4096
    ]
    times = []
    for _ in range(30):
        start = time.perf_counter()
        screen.screen(text)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.025


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_screen_never_raises(text: str) -> None:
    screen = _shared_screen()
    assert screen.screen(text) in (None, *CATEGORIES)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000,
        "kill " * 2_000,
        "😀🔥💔" * 3_000,
        "مرحبا كيف حالك " * 500 + "שלום",  # right-to-left
        "\x00\x01\x02\x1b[31m\u200b\u202e\ufeff" * 500,  # control and format characters
        "$1@!" * 2_500,
        "\n" * 5_000,
        "̀" * 5_000,  # lone combining marks
        "a" * 5_000 + "." + "1" * 5_000,  # one long token: leetspeak handling must stay linear
        "1" * 10_000 + "a",
    ],
)
def test_screen_survives_odd_text(screen: LexiconScreen, text: str) -> None:
    assert screen.screen(text) in (None, *CATEGORIES)
    # No quadratic corner: a slow path is slow every time, so the quickest of three is judged, with the
    # collector off. Once in CI a single call took 0.18 s against its usual 2-4 ms: a pause of the
    # machine or of the collector, not of the screen.
    took = []
    gc.disable()
    try:
        for _ in range(3):
            start = time.perf_counter()
            screen.screen(text)
            took.append(time.perf_counter() - start)
    finally:
        gc.enable()
    assert min(took) < 0.1


_SCREEN: list[LexiconScreen] = []


def _shared_screen() -> LexiconScreen:
    # hypothesis does not mix with function-scoped fixtures; load once per run instead.
    if not _SCREEN:
        _SCREEN.append(LexiconScreen.load(ROOT / "content")[0])
    return _SCREEN[0]


# --- loading errors ----------------------------------------------------------------------------

GOOD = """language: en
categories:
  medical_emergency:
    patterns: ["not breathing"]
  suicide_self_harm:
    patterns: ["suicid*"]
  child_at_risk:
    patterns: ["rape*"]
  domestic_violence:
    patterns: ["domestic violence"]
  caregiver_breaking_point:
    patterns: ["cant cope"]
"""


def _content(tmp_path: Path, text: str, name: str = "en.yaml") -> Path:
    (tmp_path / "safety" / "lexicon").mkdir(parents=True, exist_ok=True)
    (tmp_path / "safety" / "lexicon" / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_temp_lexicon_loads(tmp_path: Path) -> None:
    screen, errors = LexiconScreen.load(_content(tmp_path, GOOD))
    assert errors == []
    assert screen.screen("he is SUICIDAL") == "suicide_self_harm"


def test_bad_pattern_names_file_and_line(tmp_path: Path) -> None:
    text = GOOD.replace('patterns: ["domestic violence"]', 'patterns:\n      - "ok words"\n      - "(broken"')
    screen, errors = LexiconScreen.load(_content(tmp_path, text))
    assert len(errors) == 1
    error = errors[0]
    assert error.file == "safety/lexicon/en.yaml"
    assert error.line == text.splitlines().index('      - "(broken"') + 1
    assert "(broken" in error.message and "without its )" in error.message
    assert not error.warning
    assert screen.screen("ok words") == "domestic_violence"  # the good patterns still load


def test_unknown_category_and_key_are_errors_with_lines(tmp_path: Path) -> None:
    text = GOOD + "  self_harm:\n    patterns: [x]\n" + "colour: blue\n"
    _, errors = LexiconScreen.load(_content(tmp_path, text))
    lines = text.splitlines()
    by_line = {e.line: e.message for e in errors if e.file == "safety/lexicon/en.yaml"}
    assert "'self_harm' is not a category" in by_line[lines.index("  self_harm:") + 1]
    assert "colour" in by_line[lines.index("colour: blue") + 1]


def test_language_must_match_file_name(tmp_path: Path) -> None:
    _, errors = LexiconScreen.load(_content(tmp_path, GOOD, "fr.yaml"))
    assert [(e.file, e.line) for e in errors] == [("safety/lexicon/fr.yaml", 1)]


def test_missing_lexicons_and_categories_are_errors(tmp_path: Path) -> None:
    _, errors = LexiconScreen.load(tmp_path)
    assert errors and "no safety lexicon" in errors[0].message
    partial = GOOD.split("  domestic_violence:")[0]
    _, errors = LexiconScreen.load(_content(tmp_path, partial))
    assert {e.message.split(":")[0] for e in errors} == {
        "no lexicon has patterns for domestic_violence",
        "no lexicon has patterns for caregiver_breaking_point",
    }


def test_invalid_yaml_is_an_error_with_a_line(tmp_path: Path) -> None:
    _, errors = LexiconScreen.load(_content(tmp_path, "language: en\ncategories: [\n"))
    assert errors and errors[0].file == "safety/lexicon/en.yaml" and errors[0].line >= 2


# --- neuroseq safety check ---------------------------------------------------------------------


def test_run_safety_check_format() -> None:
    screen, errors = SafetyScreen.load(ROOT / "content")
    assert not [e for e in errors if not e.warning]
    stdin = io.StringIO(
        "I want to kill myself tonight\r\nwe baked a cake\n\nhe's not breathing and his lips are blue\n"
        "i dont know how much longer i can do this\n"
    )
    stdout = io.StringIO()
    assert run_safety_check(stdin, stdout, screen) == 0
    assert stdout.getvalue().splitlines() == [
        "suicide_self_harm\tI want to kill myself tonight",
        "none\twe baked a cake",
        "none\t",
        "medical_emergency\the's not breathing and his lips are blue",
        "check:caregiver_breaking_point\ti dont know how much longer i can do this",
    ]


def test_folding_never_turns_nose_into_noose(screen: LexiconScreen) -> None:
    assert normalise("she picks her NOSE") == "she picks her nose"
    assert normalise("a noose") == "a noose" and normalise("sooo tired") == "so tired"
    assert screen.screen("she picks her nose all the time") is None
    assert screen.screen("my nose is bleeding a bit after football") != "suicide_self_harm"
    assert screen.screen("he tied a noose in his room") == "suicide_self_harm"
