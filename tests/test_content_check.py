"""One broken content fixture per check rule: each is caught, naming file and line."""

from __future__ import annotations

import re
from pathlib import Path

from dialogs.flow import Flow
from neuroseq_core.content import load_content
from neuroseq_core.content.check_words import forbidden_claims


def edit(path: Path, pattern: str, replacement: str, count: int = 1) -> int:
    """Replace the first match of a regex; return the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    m = re.search(pattern, text, flags=re.MULTILINE)
    assert m, f"{pattern!r} not found in {path}"
    line = text.count("\n", 0, m.start()) + 1
    path.write_text(text[: m.start()] + m.expand(replacement) + text[m.end() :], encoding="utf-8")
    return line


def errors_of(root: Path) -> list[str]:
    content, errors = load_content(root)
    bad = [str(e) for e in errors if not e.warning]
    assert content is None and bad, "expected the content to be refused"
    return bad


def assert_caught(root: Path, file: str, line: int | None, words: str) -> None:
    bad = errors_of(root)
    prefix = f"{file}:{line}:" if line is not None else f"{file}:"
    hits = [e for e in bad if e.startswith(prefix) and words in e]
    assert hits, f"no error at {prefix} mentioning {words!r}; got:\n" + "\n".join(bad[:20])


def test_shipped_content_is_clean():
    content, errors = load_content()
    assert content is not None, "\n".join(map(str, errors))


def test_yaml_syntax_error(copy):
    line = edit(copy / "activities" / "relate.yaml", r"^(\s+)levels: \[", r"\1levels: [[ ")
    assert_caught(copy, "activities/relate.yaml", None, "not valid YAML")
    assert line > 0


def test_unknown_field(copy):
    line = edit(copy / "activities" / "reason.yaml", r"^(\s+)minutes: (\d+)", r"\1minutes: \2\n\1minutez: 3")
    assert_caught(copy, "activities/reason.yaml", line + 1, "minutez")


def test_unknown_age_band_in_activity(copy):
    path = copy / "activities" / "relate.yaml"
    text = path.read_text()
    m = re.search(r"^  - id: ([a-z0-9-]+)\n(?:.*\n)*?\s+age_bands: \[", text, flags=re.MULTILINE)
    line = text.count("\n", 0, m.start()) + 1
    edit(path, r"age_bands: \[", 'age_bands: ["7-9", ')
    assert_caught(copy, "activities/relate.yaml", line, "unknown age band '7-9'")


def test_options_out_of_order(copy):
    line = edit(copy / "questionnaires" / "caregiver.yaml", r"concern: 0", "concern: 3")
    assert_caught(copy, "questionnaires/caregiver.yaml", line + 1, "least to most concern")


def test_template_syntax_error(copy):
    line = edit(copy / "messages" / "en" / "main.yaml", r"^results.next: .*$", 'results.next: "{% if %}"')
    assert_caught(copy, "messages/en/main.yaml", line, "does not render")


def test_template_unknown_variable(copy):
    line = edit(
        copy / "messages" / "en" / "main.yaml",
        r"^results.next: .*$",
        'results.next: "Next for {{ childname }}"',
    )
    assert_caught(copy, "messages/en/main.yaml", line, "'childname' is undefined")


def test_disallowed_tag(copy):
    line = edit(
        copy / "messages" / "en" / "main.yaml", r"^results.next: .*$", 'results.next: "<a href=x>next</a>"'
    )
    assert_caught(copy, "messages/en/main.yaml", line, "not allowed")


def test_missing_translation(copy):
    edit(copy / "messages" / "es" / "main.yaml", r"^results.more: .*\n", "")
    english = (copy / "messages" / "en" / "main.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(english, 1) if text.startswith("results.more:"))
    # Named where the text to translate is, and which folder it is missing from.
    assert_caught(copy, "messages/en/main.yaml", line, "'results.more' is missing in es")
    assert_caught(copy, "messages/en/main.yaml", line, "messages/es/")


def test_missing_translation_of_an_activity(copy):
    path = copy / "activities" / "reason.yaml"
    text = path.read_text()
    m = re.search(r"^      es:\n(?:        .*\n|          .*\n|            .*\n)+", text, flags=re.MULTILINE)
    path.write_text(text[: m.start()] + text[m.end() :])
    assert_caught(copy, "activities/reason.yaml", None, "has no es text")


def test_referral_to_unknown_question(copy):
    line = edit(copy / "referrals.yaml", r"question: c_skills_lost", "question: c_nope")
    assert_caught(copy, "referrals.yaml", None, "unknown question 'c_nope'")
    assert line


def test_referral_message_missing(copy):
    edit(copy / "referrals.yaml", r"message: referral.skills_lost", "message: referral.nowhere")
    assert_caught(copy, "referrals.yaml", None, "'referral.nowhere' is missing")


def test_duplicate_question_id(copy):
    line = edit(copy / "questionnaires" / "caregiver.yaml", r"id: c_eating", "id: c_sleep")
    assert_caught(copy, "questionnaires/caregiver.yaml", line, "used twice")


def test_forbidden_claim(copy):
    line = edit(copy / "activities" / "regulate.yaml", r"^(\s+)title: \"?", r"\1title: Brain map ")
    assert_caught(copy, "activities/regulate.yaml", None, "'Brain map'")
    assert line


def test_coverage_rule(copy):
    (copy / "activities" / "relate.yaml").write_text("activities: []\n")
    assert_caught(copy, "activities/", 1, "relational / home")


def test_too_few_questions(copy):
    path = copy / "questionnaires" / "educator_class.yaml"
    text = path.read_text()
    for _ in range(6):
        text = re.sub(r"level: cognitive", "level: relational", text, count=1)
    path.write_text(text)
    assert_caught(copy, "questionnaires/educator_class.yaml", None, "question(s) for cognitive")


def test_thresholds_must_rise(copy):
    edit(copy / "age_bands.yaml", r"more_support: [0-9.]+", "more_support: 0.5")
    assert_caught(copy, "age_bands.yaml", None, "more_support must be above some_support")


def test_stale_helpline_is_a_warning_not_an_error(copy):
    path = next((copy / "resources").glob("uk.yaml"))
    edit(path, r"last_verified: [0-9-]+", "last_verified: 2020-01-01")
    content, errors = load_content(copy)
    assert content is not None
    assert any(e.warning and e.file.startswith("resources/uk.yaml") for e in errors)


def test_unreachable_state_is_found():
    flow = Flow(
        name="t",
        initial="a",
        states=("a", "b", "island"),
        transitions=({"trigger": "go", "source": "a", "dest": "b"},),
    )
    assert flow.reachable() == {"a", "b"}


def test_forbidden_claims_allow_the_disclaimer():
    assert forbidden_claims("It is not a diagnosis and not affiliated with anyone.") == []
    assert forbidden_claims("No es un diagnóstico.") == []
    assert forbidden_claims("Our certified brain map") == ["certified", "brain map"]
    assert forbidden_claims("This NMT assessment shows the developmental age") == [
        "assessment",
        "developmental age",
    ]
    assert forbidden_claims("This isn’t a diagnosis or an assessment.") == []


def test_an_idea_shown_at_home_may_not_speak_of_a_class(copy):
    # The base wording of an idea offered at home and in class: a class word is refused (its
    # classroom variant is where that belongs).
    path = copy / "activities" / "regulate.yaml"
    line = edit(
        path, r'- "Sip slowly and notice the cold\."', '- "In class, sip slowly and notice the cold."'
    )
    assert_caught(copy, "activities/regulate.yaml", None, "'water-break' (en) is shown to 6-11 in home")
    assert line > 0


def test_a_teenager_is_never_asked_about_shoes_on(copy):
    # The 12-18 wording of a question may not speak to a teenager as to a toddler.
    path = copy / "questionnaires" / "caregiver.yaml"
    edit(path, r"like getting up on time or getting ready to leave\?", 'like \\"shoes on\\"?')
    bad = errors_of(copy)
    assert any("'c_simple_requests' (en) is asked about 12-18" in e and "shoes on" in e for e in bad), bad[:5]
    # ...while the base wording, for younger children, may.
    assert not any("'c_simple_requests' (en) is asked about 3-5" in e for e in bad)


def test_spanish_outside_spain_has_no_vosotros_and_spain_may_keep_its_own(copy):
    edit(
        copy / "messages" / "es" / "main.yaml",
        r"^cancel\.done: \"En pausa\.",
        'cancel.done: "Vosotros estáis en pausa.',
    )
    bad = errors_of(copy)
    assert any("message 'cancel.done' uses Spain-only Spanish" in e and "estais" in e for e in bad), bad[:5]


def test_spains_own_wording_is_allowed_in_es_es(copy):
    (copy / "messages" / "es-ES" / "extra.yaml").write_text(
        'cancel.done: "Pausado. Os guardo las respuestas."\n', "utf-8"
    )
    content, errors = load_content(copy)
    assert content is not None, [str(e) for e in errors if not e.warning][:5]
    assert "Os guardo" in content.template("cancel.done", "es-ES")
    assert "Os guardo" not in content.template("cancel.done", "es")


def test_a_regional_variant_must_reword_an_existing_message(copy):
    (copy / "messages" / "es-ES" / "extra.yaml").write_text('nothing.here: "Hola"\n', "utf-8")
    assert_caught(copy, "messages/es-ES/extra.yaml", 1, "rewords nothing")
