"""Helplines per region: loading content/resources/*.yaml and choosing the lines for a reply."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from neuroseq_core.models import Helpline, Region
from neuroseq_core.safety import CATEGORIES
from neuroseq_core.yamlio import ContentError, LineDict, display_name, line_of, read_folder, validate

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


def lines_for(region: Region, category: str, fallback: Region | None) -> list[Helpline]:
    """The region's lines for this category (+ general), or the fallback's when the region has none for it."""
    own = [h for h in region.helplines if category in h.categories or "general" in h.categories]
    if fallback is None or fallback.id == region.id or any(category in h.categories for h in own):
        return own
    # Nothing local for this category: add the fallback's lines so the reader still has somewhere to go.
    extra = [h for h in fallback.helplines if category in h.categories or "general" in h.categories]
    return own + [h for h in extra if h not in own]


def _line(helpline: Helpline) -> dict[str, str]:
    return {
        "name": helpline.name,
        "phone": helpline.phone or "",
        "text": helpline.text or "",
        "web": helpline.web or "",
        "hours": helpline.hours,
    }


def safety_context(
    category: str, region: Region | None, regions: dict[str, Region], language: str, role: str | None
) -> dict[str, object]:
    """The Jinja context for the safety and helplines templates (keys as safety.SAMPLE_CONTEXT).

    For `helplines.list` (the /helplines command), pass category "general".
    """
    fallback = regions.get(FALLBACK_REGION)
    shown = region or fallback
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
        }
    # A region without digits in `emergency` (intl) has no single number: templates then say
    # "your local emergency number".
    has_number = any(ch.isdigit() for ch in shown.emergency)
    return {
        "category": category,
        "language": language,
        "region_id": shown.id,
        "region_name": shown.name.get(language) or next(iter(shown.name.values()), shown.id),
        "emergency_number": shown.emergency if has_number else "",
        "is_educator": role == "educator",
        "lines": [_line(h) for h in lines_for(shown, category, fallback)],
        "all_lines": [_line(h) for h in shown.helplines],
    }
