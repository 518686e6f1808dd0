"""Helplines per region: loading content/resources/*.yaml and choosing the lines for a reply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from neuroseq_core.content.yamlio import ContentError, LineDict, display_name, line_of, read_folder, validate
from neuroseq_core.domain.models import Helpline, Region
from neuroseq_core.safety import CATEGORIES

FALLBACK_REGION = "intl"
HELPLINE_CATEGORIES: tuple[str, ...] = ("emergency", *CATEGORIES, "general")
STALE_AFTER = dt.timedelta(days=365)


def load_regions(
    content_dir: Path, today: dt.date | None = None
) -> tuple[dict[str, Region], list[ContentError]]:
    """Load every region; errors, and warnings for helplines not verified in the last 12 months."""
    today = today or dt.date.today()
    regions: dict[str, Region] = {}
    errors: list[ContentError] = []
    folder = content_dir / "resources"
    for path, name, data in read_folder(content_dir, "resources", errors):
        region = validate(Region, data, name, errors)
        if region is None:
            continue
        problems = _check_region(region, path.stem, data, name, today)
        errors.extend(problems)
        if not any(not p.warning for p in problems):
            regions[region.id] = region
    if FALLBACK_REGION not in regions:
        where = display_name(folder / f"{FALLBACK_REGION}.yaml", content_dir)
        errors.append(ContentError(where, 1, "the fallback region 'intl' is missing: every reply needs it"))
    return regions, errors


def staleness(what: str, verified: dt.date, file: str, line: int) -> ContentError | None:
    """A warning when a named service was last checked more than 12 months ago (or in the future)."""
    today = dt.date.today()
    if verified > today:
        return ContentError(file, line, f"{what}: last_verified is in the future", warning=True)
    if today - verified > STALE_AFTER:
        return ContentError(
            file,
            line,
            f"{what} was last verified on {verified}, more than 12 months ago: check it, then update last_verified",
            warning=True,
        )
    return None


def _check_region(region: Region, stem: str, data: LineDict, name: str, today: dt.date) -> list[ContentError]:
    out: list[ContentError] = []
    if region.id != stem:
        out.append(
            ContentError(name, line_of(data, ["id"]), f"id is {region.id!r}: it must match the file name")
        )
    for i, line in enumerate(region.helplines):
        for j, category in enumerate(line.categories):
            if category not in HELPLINE_CATEGORIES:
                known = ", ".join(HELPLINE_CATEGORIES)
                at = line_of(data, ["helplines", i, "categories", j])
                out.append(ContentError(name, at, f"unknown category {category!r}; use one of: {known}"))
        if not (line.phone or line.text or line.web):
            at = line_of(data, ["helplines", i])
            out.append(ContentError(name, at, f"{line.name!r} needs a phone, text or web contact"))
        at = line_of(data, ["helplines", i, "last_verified"])
        if line.last_verified > today:
            out.append(ContentError(name, at, f"{line.name!r}: last_verified is in the future", warning=True))
        elif today - line.last_verified > STALE_AFTER:
            message = (
                f"{line.name!r} was last verified on {line.last_verified}, more than 12 months ago: "
                "check the number and hours, then update last_verified"
            )
            out.append(ContentError(name, at, message, warning=True))
    return out


def lines_for(
    region: Region, category: str, fallback: Region | None, audience: str = "adult", poisoning: bool = False
) -> list[Helpline]:
    """The lines for this category and reader, its own lines first; the fallback's when the region has none.

    A line made for this category comes before a general one (a child's disclosure gets the child
    line before a suicide line); a medical reply lists no general lines (in an emergency they are
    no use), and a poison line only when the message speaks of swallowing or poison.
    """

    def fits(h: Helpline) -> bool:
        return (audience == "all" or h.audience in ("any", audience)) and (h.when is None or poisoning)

    def pick(r: Region) -> list[Helpline]:
        own = sorted((h for h in r.helplines if category in h.categories and fits(h)), key=_rank(category))
        if category == "medical_emergency":
            return own
        return own + [h for h in r.helplines if "general" in h.categories and fits(h) and h not in own]

    lines = pick(region)
    if fallback is None or fallback.id == region.id or any(category in h.categories for h in lines):
        return lines
    # Nothing local for this category: add the fallback's lines so the reader still has somewhere to go.
    return lines + [h for h in pick(fallback) if h not in lines]


def _rank(category: str) -> Callable[[Helpline], int]:
    return lambda h: h.categories.index(category)


def known_numbers(regions: dict[str, Region], language: str) -> list[dict[str, str]]:
    """Emergency numbers where this language is spoken, for a reply before the user's country is known."""
    by_number: dict[str, list[str]] = {}
    for r in sorted(regions.values(), key=lambda r: r.id):
        if language in r.languages and any(ch.isdigit() for ch in r.emergency):
            by_number.setdefault(r.emergency, []).append(r.name.get(language) or r.id)
    out = [{"number": n, "where": ", ".join(where)} for n, where in by_number.items()]
    fallback = regions.get(FALLBACK_REGION)
    for known in fallback.known_numbers if fallback else []:
        if known.number not in by_number:
            out.append({"number": known.number, "where": known.where.get(language) or known.number})
    return out


def _line(helpline: Helpline) -> dict[str, str]:
    return {
        "name": helpline.name,
        "phone": helpline.phone or "",
        "text": helpline.text or "",
        "web": helpline.web or "",
        "hours": helpline.hours,
    }


def safety_context(
    category: str,
    region: Region | None,
    regions: dict[str, Region],
    language: str,
    role: str | None,
    audience: str = "adult",
    poisoning: bool = False,
) -> dict[str, object]:
    """The Jinja context for the safety and helplines templates (keys as safety.SAMPLE_CONTEXT).

    For `helplines.list` (the /helplines command), pass category "general". `audience` is "child"
    when a child or young person seems to be writing, "adult" for adults' lines only, "all" for both.
    """
    fallback = regions.get(FALLBACK_REGION)
    shown = region or fallback
    unknown = region is None or region.id == FALLBACK_REGION
    numbers = known_numbers(regions, language) if unknown else []
    if shown is None:
        # No region at all (content check failed to load intl): still give the emergency wording.
        return {
            "category": category,
            "language": language,
            "region_id": "",
            "region_name": "",
            "emergency_number": "",
            "is_educator": role == "educator",
            "lines": [],
            "all_lines": [],
            "numbers": numbers,
        }
    # A region without digits in `emergency` (intl) has no single number: templates then say
    # "your local emergency number", after the numbers of the countries where the language is spoken.
    has_number = any(ch.isdigit() for ch in shown.emergency)
    return {
        "category": category,
        "language": language,
        "region_id": shown.id,
        "region_name": ""
        if unknown
        else shown.name.get(language) or next(iter(shown.name.values()), shown.id),
        "emergency_number": shown.emergency if has_number else "",
        "is_educator": role == "educator",
        "lines": [_line(h) for h in lines_for(shown, category, fallback, audience, poisoning)],
        "all_lines": [_line(h) for h in shown.helplines],
        "numbers": numbers,
    }
