"""Segment names and marketing actions from a rule table over the segment profile.

Every word of a generated name is a claim about the segment's profile (:func:`segkit.clustering.segment_profile`)
and follows from one rule with its threshold, compared with the customer base (all customers profiled):

======================  ==========================================================================
word                    rule (segment profile against the whole customer base)
======================  ==========================================================================
New                     median tenure (days since the first purchase) <= 90 days
Recent                  median recency below the base's median recency
Lapsed / Lapsing /      median recency at or above the base's median recency
At-risk
loyal / regulars / VIP  median frequency above the base's median frequency (loyal and VIP also
                        need Recent)
one-time                at least 70% of the segment's customers bought once
big spenders / VIP      revenue share at least 1.5 times the customer share
low spenders            median monetary below the base's median monetary
occasional              none of the above frequency words applies
======================  ==========================================================================

:data:`NAME_RULES` lists the base names in the order they are tried (the first whose conditions all
hold names the segment), each with its action. New customers get a welcome / nurture action and are
never suppressed. When two segments get the same base name, each is told apart by a suffix naming a
feature of the data that separates it (``|z| >= 0.5`` standard deviations from the overall mean, see
:func:`suffix`); a number is the last resort. The suffix also ends the action, so no two segments
share an action text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import ParameterError

__all__ = [
    "HIGH_VALUE_LIFT",
    "NAME_RULES",
    "NEW_TENURE_DAYS",
    "ONE_TIME_SHARE",
    "SUFFIX_MIN_Z",
    "NameRule",
    "base_name",
    "facts",
    "name_rule",
    "name_segments",
    "segment_action",
    "segment_actions",
    "suffix",
]

#: "New": median tenure at most this many days.
NEW_TENURE_DAYS = 90
#: "one-time": at least this share of the segment's customers bought once.
ONE_TIME_SHARE = 0.7
#: "big spenders" / "VIP": revenue share at least this multiple of the customer share.
HIGH_VALUE_LIFT = 1.5
#: A suffix names a feature whose segment mean lies at least this many standard deviations from the mean.
SUFFIX_MIN_Z = 0.5
#: Features a suffix never names: they are already in the base name (recency, frequency, spend,
#: tenure) or derived from them (mean days between orders equals tenure for one-time buyers).
SUFFIX_EXCLUDED = ("recency_days", "frequency", "monetary", "tenure_days", "mean_days_between_orders")
#: Share families: prefix -> (phrase when most of the spend goes there, noun for "more"/"less" tags).
SHARE_WORDS: dict[str, str] = {"share_cat_": "lovers", "share_channel_": "buyers"}


def _get(row: pd.Series, column: str) -> float:
    value = row.get(column, np.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def facts(row: pd.Series) -> dict[str, bool]:
    """The yes/no facts the name rules test, each from one profile column against its threshold.

    ``new``: ``median_tenure_days <= NEW_TENURE_DAYS``; ``recent``: ``median_recency_days <
    base_median_recency_days``; ``frequent``: ``median_frequency > base_median_frequency``;
    ``one_time``: ``one_time_share >= ONE_TIME_SHARE``; ``high_value``: ``revenue_share >=
    HIGH_VALUE_LIFT x customer_share``; ``low_spend``: ``median_monetary < base_median_monetary``.
    A fact whose columns are missing is False (the word is not written).
    """
    share = _get(row, "customer_share")
    lift = _get(row, "revenue_share") / share if share > 0 else float("nan")
    lift = lift * (1 + 1e-9)  # 0.3 / 0.2 is 1.4999999999999998 in floating point
    return {
        "new": _get(row, "median_tenure_days") <= NEW_TENURE_DAYS,
        "recent": _get(row, "median_recency_days") < _get(row, "base_median_recency_days"),
        "frequent": _get(row, "median_frequency") > _get(row, "base_median_frequency"),
        "one_time": _get(row, "one_time_share") >= ONE_TIME_SHARE,
        "high_value": lift >= HIGH_VALUE_LIFT,
        "low_spend": _get(row, "median_monetary") < _get(row, "base_median_monetary"),
    }


@dataclass(frozen=True)
class NameRule:
    """One base name: the facts that must hold (True) or fail (False), the rule in words, the action."""

    name: str
    requires: Mapping[str, bool]
    condition: str
    action: str

    def applies(self, segment_facts: Mapping[str, bool]) -> bool:
        return all(segment_facts[fact] == value for fact, value in self.requires.items())


#: Base names in the order they are tried; the last one has no condition, so every segment gets one.
NAME_RULES: tuple[NameRule, ...] = (
    NameRule(
        "New big spenders",
        {"new": True, "high_value": True},
        "median tenure <= 90 days; revenue share >= 1.5 x customer share",
        "Welcome them personally: a thank-you note, early access and service follow-up to keep the first "
        "big orders coming.",
    ),
    NameRule(
        "New customers",
        {"new": True},
        "median tenure <= 90 days",
        "Welcome and nurture: an onboarding series and a second-purchase incentive within 30 days.",
    ),
    NameRule(
        "VIP loyal customers",
        {"frequent": True, "recent": True, "high_value": True},
        "median frequency above and median recency below the base's medians; revenue share >= 1.5 x "
        "customer share",
        "Reward and retain: VIP programme, early access and referral asks; no discounts needed.",
    ),
    NameRule(
        "Loyal regulars",
        {"frequent": True, "recent": True},
        "median frequency above and median recency below the base's medians",
        "Grow basket size: cross-sell and bundles from their favourite categories, loyalty points.",
    ),
    NameRule(
        "At-risk big spenders",
        {"frequent": True, "recent": False, "high_value": True},
        "median frequency above the base's median, median recency at or above it; revenue share >= 1.5 x "
        "customer share",
        "Win back now: personal outreach with a win-back offer and a survey on why they stopped.",
    ),
    NameRule(
        "Lapsing regulars",
        {"frequent": True, "recent": False},
        "median frequency above the base's median, median recency at or above it",
        "Win-back campaign with a meaningful incentive on their usual categories.",
    ),
    NameRule(
        "Recent one-time buyers",
        {"one_time": True, "recent": True},
        ">= 70% bought once; median recency below the base's median",
        "Convert to a second purchase: a follow-up offer on a related product within weeks of the first order.",
    ),
    NameRule(
        "Lapsed one-time low spenders",
        {"one_time": True, "recent": False, "low_spend": True},
        ">= 70% bought once; median recency at or above and median spend below the base's medians",
        "Minimal spend: one automated reactivation e-mail, then suppress from paid campaigns.",
    ),
    NameRule(
        "Lapsed one-time buyers",
        {"one_time": True, "recent": False},
        ">= 70% bought once; median recency at or above the base's median",
        "Reactivate cheaply: one reminder of what they bought with a time-limited offer; no paid retargeting.",
    ),
    NameRule(
        "Recent occasional buyers",
        {"recent": True},
        "median recency below the base's median",
        "Build the habit: reminders timed to their purchase cycle and a loyalty-points starter.",
    ),
    NameRule(
        "Lapsed occasional buyers",
        {},
        "median recency at or above the base's median (no other rule applies)",
        "Low-cost reactivation: seasonal newsletter and time-limited offers tailored to past purchases.",
    ),
)


def name_rule(row: pd.Series) -> NameRule:
    """The first rule of :data:`NAME_RULES` whose conditions hold for this profile row."""
    segment_facts = facts(row)
    return next(rule for rule in NAME_RULES if rule.applies(segment_facts))


def base_name(row: pd.Series) -> str:
    """Base name of one profile row (:func:`name_rule`)."""
    return name_rule(row).name


def _feature_text(row: pd.Series, feature: str, z: float) -> str:
    for prefix, noun in SHARE_WORDS.items():
        if feature.startswith(prefix):
            level = feature[len(prefix) :].replace("_", " ")
            if z > 0 and _get(row, f"mean_{feature}") >= 0.5:
                return f"{level} {noun}"  # most of their spend goes there
            return f"{'more' if z > 0 else 'less'} {level}"
    return f"{'high' if z > 0 else 'low'} {feature.replace('_', ' ')}"


def suffix_candidates(row: pd.Series) -> list[tuple[str, float, str]]:
    """``(feature, z, text)`` of the features that separate the segment, most separating first.

    A feature qualifies when the profile has its ``z_`` column, it is not in :data:`SUFFIX_EXCLUDED`
    and ``|z| >= SUFFIX_MIN_Z``. Text: ``"<level> lovers"`` / ``"<channel> buyers"`` when at least half
    the segment's spend goes to that category / channel, ``"more <level>"`` / ``"less <level>"`` for
    other shares, ``"high <feature>"`` / ``"low <feature>"`` otherwise.
    """
    zs = {
        column[2:]: _get(row, column)
        for column in row.index
        if str(column).startswith("z_") and str(column)[2:] not in SUFFIX_EXCLUDED
    }
    ordered = sorted(
        ((f, z) for f, z in zs.items() if np.isfinite(z) and abs(z) >= SUFFIX_MIN_Z),
        key=lambda item: (-abs(item[1]), item[0]),
    )
    return [(f, z, _feature_text(row, f, z)) for f, z in ordered]


def suffix(row: pd.Series, used: set[str] = frozenset()) -> str:
    """The text of the most separating qualifying feature not in ``used`` ("" when none)."""
    return next((text for _, _, text in suffix_candidates(row) if text not in used), "")


def _generated_names(profile: pd.DataFrame) -> dict[int, str]:
    bases = {int(i): base_name(profile.loc[i]) for i in profile.index}
    counts = pd.Series(list(bases.values()), dtype="str").value_counts()
    names: dict[int, str] = {}
    used: dict[str, set[str]] = {}
    for i, base in bases.items():
        if counts[base] == 1:
            names[i] = base
            continue
        taken = used.setdefault(base, set())
        tag = suffix(profile.loc[i], taken)
        taken.add(tag)
        names[i] = f"{base} ({tag})" if tag else base
    seen: dict[str, int] = {}
    out = {}
    for i in sorted(names):
        seen[names[i]] = seen.get(names[i], 0) + 1
        out[i] = names[i] if seen[names[i]] == 1 else f"{names[i]} {seen[names[i]]}"
    return out


def name_segments(profile: pd.DataFrame, overrides: Mapping[Any, str] | str | None = None) -> dict[int, str]:
    """Readable, unique segment names from a profile (:data:`NAME_RULES`, then :func:`suffix`), then ``overrides``.

    Parameters
    ----------
    profile
        Output of :func:`segkit.clustering.segment_profile`.
    overrides
        Segment id (int or its text) or generated name -> new name; or the same mapping as JSON text.

    Raises
    ------
    ParameterError
        An override names an unknown segment, is not valid JSON, or makes two names equal.
    """
    return _apply_overrides(_generated_names(profile), overrides)


def _apply_overrides(names: dict[int, str], overrides: Mapping[Any, str] | str | None) -> dict[int, str]:
    if overrides is None or (isinstance(overrides, str) and not overrides.strip()):
        return names
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides)
        except ValueError as exc:
            raise ParameterError(f"name overrides are not valid JSON: {exc}", column="names") from None
    if not isinstance(overrides, Mapping):
        raise ParameterError(
            "name overrides must be a mapping of segment id or name to a new name", column="names"
        )
    out = dict(names)
    by_name = {v: k for k, v in names.items()}
    unknown = []
    for key, new in overrides.items():
        if isinstance(key, str) and key in by_name:
            target = by_name[key]
        else:
            try:
                target = int(key)
            except (TypeError, ValueError):
                target = None
        if target not in names:
            unknown.append(key)
            continue
        out[target] = str(new)
    if unknown:
        raise ParameterError(
            "name overrides refer to unknown segments",
            column="names",
            n_bad=len(unknown),
            examples=unknown,
            hint=f"segments are {names}",
        )
    if len(set(out.values())) != len(out):
        raise ParameterError(
            "name overrides make two segment names equal", column="names", examples=sorted(out.values())
        )
    return out


def segment_action(name: str, row: pd.Series | None = None) -> str:
    """The action of a segment: its rule's action (from ``row`` when given, else from the base name)."""
    if row is not None:
        return name_rule(row.drop("segment_name", errors="ignore")).action
    base = name.split(" (")[0].rstrip("0123456789 ").strip()
    by_name = {rule.name: rule.action for rule in NAME_RULES}
    return by_name.get(base, NAME_RULES[-1].action)


def segment_actions(profile: pd.DataFrame, names: Mapping[int, str] | None = None) -> dict[int, str]:
    """One action per segment, all different: the rule's action, then what sets the segment apart.

    Segments whose rules share an action get their :func:`suffix` appended ("Lead with: app buyers."),
    or their id when no feature separates them.
    """
    profile = profile.drop(columns="segment_name", errors="ignore")
    rules = {int(i): name_rule(profile.loc[i]) for i in profile.index}
    counts = pd.Series([rule.action for rule in rules.values()], dtype="str").value_counts()
    actions: dict[int, str] = {}
    used: dict[str, set[str]] = {}
    for i, rule in rules.items():
        if counts[rule.action] == 1:
            actions[i] = rule.action
            continue
        taken = used.setdefault(rule.action, set())
        tag = suffix(profile.loc[i], taken)
        taken.add(tag)
        actions[i] = f"{rule.action} Lead with what sets them apart: {tag}." if tag else rule.action
    seen: dict[str, int] = {}
    for i in sorted(actions):
        seen[actions[i]] = seen.get(actions[i], 0) + 1
        if seen[actions[i]] > 1:
            actions[i] = f"{actions[i]} (Variant for segment {i}.)"
    return actions
