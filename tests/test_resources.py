"""Helplines per region: loading, stale warnings, choosing lines, and rendering every safety template."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from neuroseq_core.content.render import render
from neuroseq_core.content.resources import lines_for, load_regions, safety_context
from neuroseq_core.safety import CATEGORIES, SAMPLE_CONTEXT
from neuroseq_core.safety.reply import SAFETY_TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
VERIFIED = dt.date(2026, 11, 25)
LANGUAGES = ("en", "es")
REGIONS = {"us", "uk", "ca", "au", "es", "mx", "intl"}
SAFETY_IDS = (
    *(f"safety.{c}" for c in CATEGORIES),
    "safety.educator",
    "safety.after",
    "safety.continue",
    "safety.stop",
    "helplines.list",
    "safety.not_emergency_service",
    "safety.also",
    "safety.numbers",
    "safety.check.question",
    "safety.check.again",
    "safety.check.yes",
    "safety.check.no",
    "safety.check.no_reply",
    *SAFETY_TEMPLATES,
)
# Words that must never answer a disclosure: praise, encouragement, diagnosis.
FORBIDDEN = re.compile(
    r"\b(great|awesome|well done|good job|amazing|glad to hear|diagnos\w*|disorder|genial|estupendo|fenomenal|me alegro)\b",
    re.IGNORECASE,
)
STRICT_ENV = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


@pytest.fixture(scope="module")
def regions() -> dict:
    regions, errors = load_regions(CONTENT, today=VERIFIED)
    assert errors == [], [str(e) for e in errors]
    return regions


def _messages(lang: str) -> dict[str, str]:
    return yaml.safe_load((CONTENT / "messages" / lang / "safety.yaml").read_text(encoding="utf-8"))


# --- loading -----------------------------------------------------------------------------------


def test_every_region_loads(regions: dict) -> None:
    assert set(regions) == REGIONS
    for region in regions.values():
        assert region.helplines, region.id
        assert set(region.name) >= set(LANGUAGES), region.id
    assert {r.emergency for r in regions.values() if r.id != "intl"} == {"911", "999", "000", "112"}
    assert not any(ch.isdigit() for ch in regions["intl"].emergency)


def test_domain_numbers_are_present(regions: dict) -> None:
    def contacts(region_id: str) -> set[str]:
        return {c for h in regions[region_id].helplines for c in (h.phone, h.text) if c}

    assert {"988", "1-800-422-4453", "1-800-799-7233", "START to 88788", "1-800-222-1222"} <= contacts("us")
    assert {"0808 800 5000", "0800 1111", "116 123", "0808 2000 247", "85258"} <= contacts("uk")
    assert {"988", "1-800-668-6868", "686868"} <= contacts("ca")
    assert {"1800 55 1800", "13 11 14", "1800 737 732"} <= contacts("au")
    assert {"900 20 20 10", "024", "016"} <= contacts("es")
    assert {"800 911 2000"} <= contacts("mx")
    assert {h.web for h in regions["intl"].helplines} == {
        "https://childhelplineinternational.org/helplines/",
        "https://findahelpline.com",
    }


def test_stale_helplines_warn_with_file_and_line() -> None:
    _, fresh = load_regions(CONTENT, today=VERIFIED + dt.timedelta(days=364))
    assert fresh == []
    regions, stale = load_regions(CONTENT, today=VERIFIED + dt.timedelta(days=400))
    assert len(regions) == len(REGIONS)  # warnings do not drop a region
    total = sum(len(r.helplines) for r in regions.values())
    assert len(stale) == total and all(e.warning for e in stale)
    first = stale[0]
    lines = (CONTENT / first.file).read_text(encoding="utf-8").splitlines()
    assert lines[first.line - 1].strip().startswith("last_verified:")
    assert "more than 12 months" in first.message


def test_future_verification_date_warns(tmp_path: Path) -> None:
    _write(tmp_path, "intl", INTL)
    _, errors = load_regions(tmp_path, today=VERIFIED - dt.timedelta(days=1))
    assert [e.warning for e in errors] == [True] and "future" in errors[0].message


INTL = """id: intl
name: {en: your country, es: tu país}
emergency: local emergency number
languages: [en, es]
helplines:
  - name: Find A Helpline
    categories: [general]
    web: https://findahelpline.com
    last_verified: 2026-11-25
"""


def _write(root: Path, stem: str, text: str) -> None:
    (root / "resources").mkdir(exist_ok=True)
    (root / "resources" / f"{stem}.yaml").write_text(text, encoding="utf-8")


def test_region_errors_name_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "intl", INTL)
    bad = (
        INTL.replace("id: intl", "id: xx")
        .replace("[general]", "[general, sad]")
        .replace("    web: https://findahelpline.com\n", "")
    )
    _write(tmp_path, "zz", bad)
    regions, errors = load_regions(tmp_path, today=VERIFIED)
    assert set(regions) == {"intl"}  # a region with errors is not served
    lines = bad.splitlines()
    got = {(e.file, e.line, e.warning) for e in errors}
    assert ("resources/zz.yaml", lines.index("id: xx") + 1, False) in got
    assert ("resources/zz.yaml", lines.index("    categories: [general, sad]") + 1, False) in got
    assert ("resources/zz.yaml", lines.index("  - name: Find A Helpline") + 1, False) in got


def test_schema_errors_and_missing_fallback(tmp_path: Path) -> None:
    _write(tmp_path, "us", INTL.replace("id: intl", "id: us").replace("languages", "langs"))
    regions, errors = load_regions(tmp_path, today=VERIFIED)
    assert regions == {}
    messages = [e.message for e in errors]
    assert any("langs" in m for m in messages)
    assert any("fallback region 'intl' is missing" in m for m in messages)


# --- choosing lines ----------------------------------------------------------------------------


def test_lines_for_category_and_general(regions: dict) -> None:
    names = [h.name for h in lines_for(regions["us"], "domestic_violence", regions["intl"])]
    assert "National Domestic Violence Hotline" in names
    assert "988 Suicide & Crisis Lifeline" in names  # a general line
    assert not any(
        "findahelpline" in (h.web or "")
        for h in lines_for(regions["us"], "suicide_self_harm", regions["intl"])
    )


def test_lines_fall_back_to_intl_when_the_region_has_none(regions: dict) -> None:
    lines = lines_for(regions["ca"], "domestic_violence", regions["intl"])
    assert "https://findahelpline.com" in {h.web for h in lines}
    assert lines_for(regions["ca"], "domestic_violence", None) == [
        h for h in regions["ca"].helplines if "general" in h.categories
    ]


def test_context_without_region_uses_intl(regions: dict) -> None:
    ctx = safety_context("child_at_risk", None, regions, "en", None)
    assert ctx["region_id"] == "intl" and ctx["emergency_number"] == ""
    assert "https://childhelplineinternational.org/helplines/" in {line["web"] for line in ctx["lines"]}


def test_context_keys_match_the_sample(regions: dict) -> None:
    ctx = safety_context("suicide_self_harm", regions["uk"], regions, "en", "educator")
    assert set(ctx) == set(SAMPLE_CONTEXT)
    assert ctx["is_educator"] is True and ctx["emergency_number"] == "999"
    assert set(safety_context("general", None, {}, "en", None)) == set(SAMPLE_CONTEXT)


# --- rendering ---------------------------------------------------------------------------------


def test_both_languages_have_every_safety_message() -> None:
    for lang in LANGUAGES:
        assert set(_messages(lang)) == set(SAFETY_IDS), lang


def test_sample_context_renders_every_template() -> None:
    for lang in LANGUAGES:
        for mid, template in _messages(lang).items():
            assert STRICT_ENV.from_string(template).render(SAMPLE_CONTEXT).strip(), (lang, mid)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("region_id", sorted(REGIONS))
def test_every_template_renders_for_every_region_and_category(
    regions: dict, lang: str, region_id: str
) -> None:
    messages = _messages(lang)
    compiled = {mid: STRICT_ENV.from_string(template) for mid, template in messages.items()}
    for category in CATEGORIES:
        for role in ("caregiver", "educator", None):
            ctx = safety_context(category, regions[region_id], regions, lang, role)
            for mid, template in compiled.items():
                text = template.render({**ctx, "emergency_number": ctx["emergency_number"]})
                # "also" is empty when every line was shown already; "numbers" when the region is known
                assert text.strip() or mid in ("safety.also", "safety.numbers"), (mid, region_id, lang)
                assert not FORBIDDEN.search(text), (mid, text)
                assert set(re.findall(r"</?([a-zA-Z]+)", text)) <= {"b", "i"}, (mid, text)
            # The reply for this category, as the engine renders it.
            reply = str(render(messages[f"safety.{category}"], ctx))
            emergency = regions[region_id].emergency
            if region_id == "intl":
                assert "local emergency number" in reply or "emergencias de tu país" in reply
            else:
                assert f"<b>{emergency}</b>" in reply
            for line in ctx["lines"]:
                assert f"<b>{escape(line['name'])}</b>" in reply
                assert line["phone"] in reply and line["text"] in reply and line["web"] in reply
            first_line = reply.splitlines()[1] if category != "medical_emergency" else reply.splitlines()[0]
            assert emergency in first_line or region_id == "intl", (category, reply)


def test_child_reply_speaks_to_a_child_too(regions: dict) -> None:
    en = str(
        render(
            _messages("en")["safety.child_at_risk.child"],
            safety_context("child_at_risk", regions["uk"], regions, "en", None, audience="child"),
        )
    )
    assert "not in trouble" in en and "deserve to be safe" in en and "0800 1111" in en
    es = str(
        render(
            _messages("es")["safety.child_at_risk.child"],
            safety_context("child_at_risk", regions["es"], regions, "es", None, audience="child"),
        )
    )
    assert "no estás en problemas" in es and "900 20 20 10" in es


def test_caregiver_reply_gives_the_steps_in_order(regions: dict) -> None:
    text = str(
        render(
            _messages("en")["safety.caregiver_breaking_point"],
            safety_context("caregiver_breaking_point", regions["us"], regions, "en", "caregiver"),
        )
    )
    steps = [text.index(s) for s in ("somewhere safe", "Step away", "Breathe", "call someone", "Childhelp")]
    assert steps == sorted(steps)


def test_each_line_on_its_own_line(regions: dict) -> None:
    ctx = safety_context("general", regions["uk"], regions, "en", None)
    text = str(render(_messages("en")["helplines.list"], ctx))
    bullets = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(bullets) == len(regions["uk"].helplines)
    assert "(24/7)" in text and "999" in text


def test_user_text_in_names_is_escaped() -> None:
    ctx = dict(SAMPLE_CONTEXT)
    ctx["lines"] = [{"name": "<script>A & B</script>", "phone": "1", "text": "", "web": "", "hours": ""}]
    text = STRICT_ENV.from_string(_messages("en")["safety.suicide_self_harm"]).render(ctx)
    assert "<script>" not in text and "&lt;script&gt;A &amp; B" in text


def test_educator_note_mentions_the_safeguarding_lead_and_duty() -> None:
    for lang, words in (
        ("en", ("safeguarding lead", "duty to report")),
        ("es", ("protección", "obligación")),
    ):
        text = STRICT_ENV.from_string(_messages(lang)["safety.educator"]).render(SAMPLE_CONTEXT)
        assert all(w in text for w in words), text
