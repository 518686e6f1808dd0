"""Referral rules from content: which gentle prompts to talk to a professional apply."""

from __future__ import annotations

from collections.abc import Mapping

from neuroseq_core.domain.models import Condition, ReferralRule
from neuroseq_core.domain.session import Profile


def holds(cond: Condition, profile: Profile, answers: Mapping[str, str | None], age_band: str) -> bool:
    """Whether one condition holds for these answers."""
    if cond.age_bands is not None and age_band not in cond.age_bands:
        return False
    if cond.level is not None:
        return profile.band(cond.level.level) in cond.level.bands
    if cond.answer is not None:
        return answers.get(cond.answer.question) in cond.answer.options
    if cond.any is not None:
        return any(holds(c, profile, answers, age_band) for c in cond.any)
    if cond.all is not None:
        return all(holds(c, profile, answers, age_band) for c in cond.all)
    return False


def referrals(
    rules: list[ReferralRule],
    profile: Profile,
    answers: Mapping[str, str | None],
    age_band: str,
    role: str,
    group: str = "one",
    region: str | None = None,
    carer: str | None = None,
) -> list[ReferralRule]:
    """The rules that fire, in content order. A rule for some regions or carers fires only for them;
    of the rules that share a `reason` (one per country, then a fallback), only the first that holds."""
    fired: list[ReferralRule] = []
    reasons: set[str] = set()
    for r in rules:
        if r.reason is not None and r.reason in reasons:
            continue
        if (
            role in r.roles
            and group in r.groups
            and (r.regions is None or region in r.regions)
            and (r.carers is None or carer in r.carers)
            and holds(r.when, profile, answers, age_band)
        ):
            fired.append(r)
            if r.reason is not None:
                reasons.add(r.reason)
    return fired
