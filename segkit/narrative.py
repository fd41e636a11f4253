"""Every sentence that states a fact in the notebooks (01-05) and on the index, generated from the numbers.

Each generator takes the table the notebook shows (or the object it was computed from) and returns the
sentence, or ``None`` when its premise fails, so a false sentence is never written: no behaviour sentence
without behaviour features, no "two most profitable segments" when there are at most two segments, no
monthly average of new customers when acquisition stopped, no F-score comparison when a score is
empty. Ranks quoted are read from the table shown (:func:`model_choice` quotes the search table).
Figures are formatted as in the tables (shares with one decimal, money with thousands separators).

The premise of each generator is stated in its docstring. Notebooks display a returned sentence with
``display(Markdown(...))`` and nothing when it is None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ACQUISITION_STEADY_SHARE",
    "BEHAVIOUR_FAMILIES",
    "active_customers",
    "breakdown",
    "cleaning",
    "clv_fit",
    "clv_holdout",
    "clv_segment_value",
    "cohort_retention",
    "customer_file",
    "model_choice",
    "new_vs_existing",
    "revenue_by_segment",
    "revenue_peak",
    "revenue_per_order",
    "rfm_correlations",
    "rfm_distributions",
    "rfm_score_cells",
    "rfm_segments",
    "rfm_versus_clusters",
    "runner_up",
    "sample_scope",
    "sample_tags_unchanged",
    "segment_stability",
    "tables",
    "top_customers",
    # notebook 04 (maintenance)
    "keep_watching",
    "maintenance_alarm",
    "maintenance_drift",
    "maintenance_model",
    "maintenance_no_alarm",
    "maintenance_noise",
    "maintenance_training",
    "maintenance_unstable",
    "retrain_advice",
    "retrain_headline",
    "retrain_period_days",
    "retrain_short",
    "too_short_to_tell",
]

#: Acquisition counts as steady (a monthly average describes it) when the mean of new customers in the
#: last three months is at least this share of the mean over the months before them.
ACQUISITION_STEADY_SHARE = 0.5
#: Behaviour feature families the clusters may add to RFM: prefix or column -> words.
BEHAVIOUR_FAMILIES: dict[str, str] = {
    "share_cat_": "categories",
    "share_channel_": "channels",
    "sessions": "browsing",
    "pages_per_session": "browsing",
    "conversion_rate": "browsing",
    "reviews": "reviews",
    "mean_review_score": "reviews",
    "distinct_products": "product range",
    "cancelled_share": "cancellations",
}


def _takeaway(text: str) -> str:
    return f"**Takeaway:** {text}"


# --------------------------------------------------------------------------- notebook 01
def tables(table_names: Sequence[str]) -> str | None:
    """Which tables the data hold and which optional ones are absent. Premise: at least one table."""
    names = [str(n) for n in table_names]
    if not names:
        return None
    absent = [n for n in ("customers", "sessions", "reviews", "products") if n not in names]
    text = f"{len(names)} table(s): {', '.join(names)}"
    text += f"; no {', '.join(absent)} table, so the features that need them are left out." if absent else "."
    return _takeaway(text)


def cleaning(report_frame: pd.DataFrame, n_kept: int, n_input: int) -> str | None:
    """Share of raw lines kept and the largest removal. Premise: at least one input line.

    ``report_frame`` has ``reason`` and ``rows``; the removal part is written only when a line was removed.
    """
    if n_input <= 0:
        return None
    text = f"{n_kept / n_input:.1%} of the {n_input:,} raw lines are kept"
    removed = report_frame.loc[(report_frame["reason"] != "kept") & (report_frame["rows"] > 0)]
    if len(removed):
        top = removed.sort_values("rows", ascending=False, kind="mergesort").iloc[0]
        text += f"; the largest removal is *{top['reason']}* ({int(top['rows']):,} lines)"
    return _takeaway(text + ".")


def _full(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis.loc[~kpis["partial"]] if "partial" in kpis else kpis


def revenue_peak(kpis: pd.DataFrame) -> str | None:
    """Peak month of revenue (full months) and the latest year-over-year change when one exists.

    Premise: at least one full month with revenue.
    """
    full = _full(kpis)
    if not len(full) or not (full["revenue"] > 0).any():
        return None
    peak = full["revenue"].idxmax()
    text = f"revenue peaks in {peak:%B %Y} at {full.loc[peak, 'revenue']:,.0f}; "
    yoy = full["revenue_yoy"].dropna() if "revenue_yoy" in full else pd.Series(dtype=float)
    if len(yoy):
        text += (
            f"the latest full month with a year-earlier comparison, {yoy.index[-1]:%B %Y}, is "
            f"{yoy.iloc[-1]:+.1%} year over year."
        )
    else:
        text += "no full month has a year-earlier month to compare with."
    return _takeaway(text)


def active_customers(kpis: pd.DataFrame) -> str | None:
    """Range of active customers per full month; the items-customers correlation when it is defined.

    Premise: at least one full month. The correlation needs three months and both series varying.
    """
    full = _full(kpis)
    if not len(full):
        return None
    active = full["active_customers"]
    text = (
        f"active customers per full month range from {active.min():,} ({active.idxmin():%b %Y}) to "
        f"{active.max():,} ({active.idxmax():%b %Y})"
    )
    if len(full) >= 3 and full["items_sold"].nunique() > 1 and active.nunique() > 1:
        text += (
            f"; the correlation of items sold with active customers across months is "
            f"{full['items_sold'].corr(active):.2f}"
        )
    return _takeaway(text + ".")


def revenue_per_order(kpis: pd.DataFrame) -> str | None:
    """Typical (median) revenue per order and per active customer per month. Premise: a full month with orders."""
    full = _full(kpis).dropna(subset=["revenue_per_order"])
    if not len(full):
        return None
    per_order = full["revenue_per_order"]
    return _takeaway(
        f"an order brings {per_order.median():,.1f} in a typical month (median), between {per_order.min():,.1f} "
        f"and {per_order.max():,.1f}; an active customer spends {full['revenue_per_customer'].median():,.1f} "
        "a month (median)."
    )


def acquisition_is_steady(split: pd.DataFrame) -> bool:
    """True when a monthly average of new customers describes the months after the first.

    The last three months must hold at least :data:`ACQUISITION_STEADY_SHARE` of the mean of the
    months before them (and there must be at least four months after the first).
    """
    later = split.iloc[1:]["new_customers"].astype(float)
    if len(later) < 4:
        return len(later) > 0 and bool((later > 0).all())
    before, last = later.iloc[:-3].mean(), later.iloc[-3:].mean()
    return bool(before > 0 and last >= ACQUISITION_STEADY_SHARE * before)


def new_vs_existing(split: pd.DataFrame) -> str | None:
    """Revenue share of existing customers after the first month; new customers per month when steady.

    Premise: a month after the first (the first month is all new, the data being left-censored). When
    acquisition is not steady (:func:`acquisition_is_steady`), the sentence gives the last three months'
    figure instead of an average.
    """
    later = split.iloc[1:]
    total = (later["existing_revenue"] + later["new_revenue"]).sum()
    if not len(later) or total <= 0:
        return None
    text = f"after the first month, existing customers bring {later['existing_revenue'].sum() / total:.1%} of revenue"
    if acquisition_is_steady(split):
        text += f" and new customers arrive at {later['new_customers'].mean():,.0f} a month on average."
    else:
        last = later["new_customers"].iloc[-3:]
        text += (
            f"; acquisition is not steady: {last.mean():,.0f} new customers a month over the last "
            f"{len(last)} month(s), against {later['new_customers'].iloc[:-3].mean():,.0f} before."
            if len(later) > 3
            else f"; new customers per month: {', '.join(f'{v:,}' for v in later['new_customers'])}."
        )
    return _takeaway(text)


def cohort_retention(cohorts: pd.DataFrame) -> str | None:
    """Mean share of a cohort buying again in the month after its first purchase. Premise: a month-1 cell."""
    month_1 = cohorts.loc[cohorts["months_since"] == 1, "share_active"]
    if not len(month_1):
        return _takeaway("no cohort has a second month of data yet.")
    return _takeaway(
        f"on average {month_1.mean():.1%} of a cohort buys again in the month after its first purchase "
        f"(across {len(month_1)} cohorts)."
    )


def breakdown(table: pd.DataFrame, by: str) -> str | None:
    """Largest level's revenue share and the top three's. Premise: at least one level with revenue."""
    if not len(table) or not table["revenue_share"].notna().any():
        return None
    top = min(3, len(table))
    return _takeaway(
        f"{len(table)} {by} level(s); the largest, *{table.index[0]}*, brings {table['revenue_share'].iloc[0]:.1%} "
        f"of revenue"
        + (f" and the top {top} bring {table['revenue_share'].head(top).sum():.1%}." if top > 1 else ".")
    )


# --------------------------------------------------------------------------- notebook 02
def customer_file(customers: pd.DataFrame) -> str | None:
    """Snapshot date, size and source tables of the customer file. Premise: a snapshot date recorded."""
    snapshot = customers.attrs.get("snapshot_date")
    if snapshot is None:
        return None
    tables_used = customers.attrs.get("tables") or []
    return f"**Snapshot:** {snapshot}; {len(customers):,} customers x {customers.shape[1]} columns" + (
        f" from the tables: {', '.join(map(str, tables_used))}." if tables_used else "."
    )


def rfm_distributions(customers: pd.DataFrame) -> str | None:
    """Share of one-order customers, revenue share of the top 10% by spend, median recency.

    Premise: customers with a positive total spend.
    """
    total = customers["monetary"].sum() if len(customers) else 0.0
    if total <= 0:
        return None
    one_order = (customers["frequency"] == 1).mean()
    top_decile = customers["monetary"].nlargest(max(1, len(customers) // 10)).sum() / total
    return _takeaway(
        f"{one_order:.1%} of customers ordered once; the top 10% of customers by spend bring {top_decile:.1%} "
        f"of revenue; median recency is {customers['recency_days'].median():,.0f} days."
    )


def rfm_correlations(customers: pd.DataFrame) -> str | None:
    """Spearman correlations of frequency with monetary and of recency with frequency.

    Premise: each correlation is defined (both columns vary); a pair that does not is left out.
    """
    corr = customers[["recency_days", "frequency", "monetary"]].corr(method="spearman")
    parts = []
    if pd.notna(corr.loc["frequency", "monetary"]):
        parts.append(
            f"Spearman correlation of frequency with monetary value: {corr.loc['frequency', 'monetary']:.2f}"
        )
    if pd.notna(corr.loc["recency_days", "frequency"]):
        parts.append(f"of recency with frequency: {corr.loc['recency_days', 'frequency']:.2f}")
    return _takeaway("; ".join(parts) + ".") if parts else None


def rfm_score_cells(customers: pd.DataFrame) -> str | None:
    """The (R, F) cell with the highest mean spend; spend of the top F score against the lowest.

    Premise: at least one cell; the comparison needs two distinct F scores (tie-aware scores may leave
    some scores empty, e.g. no F = 2 when most customers bought once) and is made between the highest
    and lowest F score present.
    """
    if not len(customers):
        return None
    cells = customers.groupby(["r_score", "f_score"])["monetary"].mean()
    best = cells.idxmax()
    text = f"the highest mean spend, {cells.max():,.0f}, is in the cell R={best[0]}, F={best[1]}"
    by_f = customers.groupby("f_score")["monetary"].mean()
    if len(by_f) >= 2 and by_f.iloc[0] > 0:
        text += (
            f"; customers scoring F={by_f.index[-1]} spend {by_f.iloc[-1] / by_f.iloc[0]:,.1f}x as much on "
            f"average as those scoring F={by_f.index[0]}"
        )
    return _takeaway(text + ".")


def rfm_segments(customers: pd.DataFrame) -> str | None:
    """Largest named RFM segment and the one bringing the most revenue. Premise: RFM segments and revenue."""
    if "rfm_segment" not in customers or not len(customers) or customers["monetary"].sum() <= 0:
        return None
    shares = customers["rfm_segment"].value_counts(normalize=True)
    revenue = customers.groupby("rfm_segment")["monetary"].sum() / customers["monetary"].sum()
    return _takeaway(
        f"the largest segment is *{shares.index[0]}* ({shares.iloc[0]:.1%} of customers); "
        f"*{revenue.idxmax()}* bring the most revenue ({revenue.max():.1%})."
    )


def top_customers(top: pd.DataFrame, customers: pd.DataFrame) -> str | None:
    """Revenue share of the top customers shown. Premise: revenue."""
    total = customers["monetary"].sum()
    if total <= 0 or not len(top):
        return None
    return _takeaway(f"the top {len(top)} customers bring {top['monetary'].sum() / total:.1%} of revenue.")


# --------------------------------------------------------------------------- notebook 03 and the index
def model_choice(search: Any) -> str | None:
    """The recommended model and why (the search's reason, its ranks those of ``search.table``)."""
    best = getattr(search, "best", None)
    return f"**Recommended:** {best.reason}" if best is not None and best.reason else None


def runner_up(search: Any) -> str | None:
    """Why the runner-up lost. Premise: the search has a runner-up (another k passed the filters)."""
    second = getattr(search, "runner_up", None)
    return second.reason if second is not None else None


def segment_stability(k: int, silhouette: float, stability: pd.Series) -> str | None:
    """Silhouette of the model and its mean/min bootstrap ARI. Premise: k >= 2 and at least one resample."""
    if k < 2 or not len(stability) or not np.isfinite(silhouette):
        return None
    return _takeaway(
        f"the silhouette of the {k} segments is {silhouette:.2f}; refitted on {len(stability)} bootstrap "
        f"resamples the segmentation is recovered with a mean adjusted Rand index of {stability.mean():.2f} "
        f"(min {stability.min():.2f})."
    )


def revenue_by_segment(profile: pd.DataFrame, names: Mapping[int, str]) -> str | None:
    """Top segment's revenue and its lift; the two most profitable segments only when there are more than two.

    Premise: at least two segments with revenue. The segment with the least revenue per customer is
    named when there are more than two segments (with two it is simply the other one).
    """
    if len(profile) < 2 or not profile["revenue_share"].notna().any():
        return None
    lift = profile["revenue_share"] / profile["customer_share"]
    top = profile["revenue_share"].idxmax()
    text = (
        f"*{names[top]}* ({profile.loc[top, 'customer_share']:.1%} of customers) brings "
        f"{profile.loc[top, 'revenue_share']:.1%} of revenue, {lift[top]:.1f}x its share of customers"
    )
    if len(profile) > 2:
        top_two = profile.nlargest(2, "revenue_share")
        text += (
            f"; the two most profitable segments together hold {top_two['customer_share'].sum():.1%} of customers "
            f"and {top_two['revenue_share'].sum():.1%} of revenue. Least revenue per customer: "
            f"*{names[lift.idxmin()]}* ({lift.min():.2f}x)"
        )
    return _takeaway(text + ".")


def clv_fit(model: Any) -> str:
    """What the CLV fit (a :class:`segkit.clv.ClvModel`) sees: customers, purchase days, repeat buyers.

    Always true of a fitted model (its ``seen`` counts); the sentences on customers left out appear
    only when there are any.
    """
    seen = model.seen
    parts = [
        f"The CLV fit sees {seen['customers']:,} customers who bought on or before "
        f"{model.calibration_end:%d %b %Y}, with {seen['purchase_days']:,} purchase days (purchases counted per "
        f"customer and day; zero-amount purchases count); {seen['repeat_buyers']:,} of them bought again, and the spend "
        f"model uses the {seen['gamma_gamma_customers']:,} whose repeat purchases have a positive amount."
    ]
    if seen["customers_excluded_new"]:
        parts.append(
            f"{seen['customers_excluded_new']:,} customers whose first purchase is on the calibration end day are "
            "left out (nothing about them can be fitted yet)."
        )
    if seen["customers_first_after_calibration"]:
        parts.append(
            f"{seen['customers_first_after_calibration']:,} customers who first bought after it are not in the fit."
        )
    return " ".join(parts)


def clv_holdout(table: pd.DataFrame) -> str | None:
    """Expected against actual repeat purchase days in the holdout (``ClvModel.holdout_table``).

    Premise: the holdout had at least one repeat purchase day (otherwise no ratio exists).
    """
    actual, expected = float(table["actual_total"].sum()), float(table["expected_total"].sum())
    if actual <= 0:
        return None
    gap = expected / actual - 1
    direction = "over" if gap > 0 else "under"
    unit = "weeks" if table.attrs.get("time_unit") == "W" else "days"
    return (
        f"Over the {table.attrs.get('holdout_length', 0):.0f} {unit} of holdout the model expected "
        f"{expected:,.0f} repeat purchase days where {actual:,.0f} happened: it {direction}-predicts by "
        f"{abs(gap):.0%}."
    )


def clv_segment_value(table: pd.DataFrame, names: Mapping[Any, str] | None = None) -> str | None:
    """The segment with the largest expected value (``ClvModel.segment_value``) and its shares.

    Premise: at least two segments and a positive total expected value (something to compare).
    """
    if len(table) < 2 or table["clv_sum"].sum() <= 0:
        return None
    top = table["clv_sum"].idxmax()
    name = (names or {}).get(top, top)
    customer_share = table.loc[top, "customers"] / table["customers"].sum()
    return (
        f"{name} holds {customer_share:.1%} of the customers and {table.loc[top, 'clv_share']:.1%} of the expected "
        f"value over the next {table.attrs.get('horizon_months', 0):g} months; its customers are still active "
        f"with a probability of {table.loc[top, 'prob_alive_mean']:.0%} on average."
    )


def sample_scope(sample: Any, estimated_sums: bool = False) -> str | None:
    """The customers a report is computed on when an engine drew a sample of them (notebooks 04-05).

    ``sample`` is a :class:`segkit.engines.sampling.CustomerSample` (``drawn``, ``population``,
    ``seed``, ``engine``, ``scale``). Premise: fewer customers drawn than the log holds (None, or every
    customer drawn: no sentence). With ``estimated_sums`` a clause says how sums over customers are
    estimated for everyone (:func:`segkit.engines.sampling.estimate_population_sums`).
    """
    if sample is None or not sample.drawn < sample.population:
        return None
    text = (
        f"**Scope:** this report is computed on the lines of a random sample of {sample.drawn:,} of the "
        f"{sample.population:,} customers with an id (seed {sample.seed}, drawn by the {sample.engine} engine); "
        "the customer file and the segments of notebooks 02-03 cover every customer."
    )
    if estimated_sums:
        text += (
            f" Sums over customers (the expected value in total and per segment) are estimated for all "
            f"{sample.population:,} customers as the sample's sums times {sample.scale:,.2f} (customers in the "
            "log per customer drawn); shares, medians and means are the sample's."
        )
    return text


def sample_tags_unchanged(sample: Any) -> str | None:
    """Why notebook 05 leaves ``segments.csv`` unchanged on a sample (premise: as :func:`sample_scope`)."""
    if sample is None or not sample.drawn < sample.population:
        return None
    return (
        f"**Not written:** `segments.csv` keeps its columns: the expected value of each customer is computed "
        f"only for the {sample.drawn:,} customers of the sample, not for the other "
        f"{sample.population - sample.drawn:,}."
    )


def behaviour_families(features: Sequence[str]) -> list[str]:
    """The behaviour families (:data:`BEHAVIOUR_FAMILIES`) among the clustering features, in order."""
    found = []
    for feature in features:
        for key, words in BEHAVIOUR_FAMILIES.items():
            if (feature.startswith(key) if key.endswith("_") else feature == key) and words not in found:
                found.append(words)
    return found


def rfm_versus_clusters(crosstab: pd.DataFrame, features: Sequence[str]) -> str | None:
    """Share of customers in their cluster's most common RFM segment; what the clusters add beyond RFM.

    Premise: a non-empty cross-table. The behaviour clause is written only when the clustering features
    include behaviour columns, and it names the families present.
    """
    total = crosstab.to_numpy().sum()
    if total <= 0:
        return None
    purity = crosstab.max(axis=1).sum() / total
    text = f"{purity:.1%} of customers fall in the most common RFM segment of their cluster"
    families = behaviour_families(features)
    if families:
        text += f"; the clusters also use {', '.join(families)}, which RFM scores alone do not see"
    return _takeaway(text + ".")


# --------------------------------------------------------------------------- notebook 04: maintenance
# The advice of segkit.stability is written here, from the simulation's own numbers. The simulation
# objects are read by attribute (``noise``, ``threshold``, ``steps``, ``params``...), so this module
# does not import segkit.stability (which builds its Recommendation with these functions).
def _day(date: pd.Timestamp) -> str:
    return date.strftime("%d %b %Y").lstrip("0")


def maintenance_model(identity: Mapping[str, Any], from_file: bool) -> str | None:
    """Which model is monitored: k, algorithm, segment names and (from the file) its sha256.

    Premise: the identity (:func:`segkit.stability.model_identity`) holds k and one name per segment. The
    file and its sha256 are named only when the model came from ``model.skops`` and its sha256 is known.
    """
    names = list(identity.get("segment_names") or [])
    if not identity.get("k") or len(names) != int(identity["k"]):
        return None
    source = (
        f"the model notebook 03 saved (`model.skops`, sha256 {identity['model_sha256'][:12]}...)"
        if from_file and identity.get("model_sha256")
        else "a model searched and fitted on the start window as notebook 03 does (no saved model was found)"
    )
    label = identity.get("algorithm_label", identity.get("algorithm"))
    return f"**Monitored model:** {source}: {identity['k']} segments, {label} ({', '.join(names)})."


def maintenance_training(sim: Any, identity: Mapping[str, Any]) -> str | None:
    """When and on which window the deployed specification was trained, and how often it is compared.

    Premise: the identity names every segment. The shorter window is explained only when the start had
    less history than the window asked for.
    """
    names = list(identity.get("segment_names") or [])
    if len(names) != int(identity.get("k") or 0):
        return None
    params = sim.params
    window = f"the {params['window_days']} days before each date"
    if params["window_days"] != params["requested_window_days"]:
        window += (
            f" (the start has less history than the {params['requested_window_days']}-day window, so every "
            "date uses this shorter window)"
        )
    return (
        f"The deployed segmentation ({identity['k']} segments, {identity.get('algorithm_label')}: "
        f"{', '.join(names)}) was "
        f"trained on {_day(params['start'])} on the customers who ordered in {window}, then compared every "
        f"{params['period_days']} days with the same specification retrained on fresh data."
    )


def maintenance_noise(sim: Any) -> str | None:
    """The model's agreement with itself on unchanged data and the alarm threshold derived from it.

    Premise: at least two noise refits (a spread). The rule's constants are the simulation's
    (``params["alarm_rule"]``).
    """
    noise = sim.noise
    if len(noise) < 2:
        return None
    rule = sim.params["alarm_rule"]
    return (
        f"Retrained on {len(noise)} resamples of the start customers (one below their median agreement is "
        f"retrained with up to {sim.params['refits']} seeds, as a date below the threshold is), the model agrees "
        f"with itself at an adjusted Rand index of {noise.mean():.2f} +- {noise.std(ddof=1):.2f} (lowest "
        f"{noise.min():.2f}): the alarm threshold is {sim.threshold:.2f} (the lower of mean - "
        f"{rule['sigmas']:g} sd, sd at least {rule['min_std']:.2f}, and lowest - {rule['margin']:.2f}), and it "
        f"fires after {sim.params['consecutive']} steps in a row below it."
    )


def maintenance_unstable(sim: Any) -> str | None:
    """Why an unstable model cannot be monitored, and the more stable alternative (or that none is).

    Premise: the simulation found the model too unstable (``sim.unstable``) for one of the rule's two
    reasons, each named with its figure.
    """
    if not sim.unstable:
        return None
    rule = sim.params["alarm_rule"]
    noise = sim.noise
    causes = []
    if noise.mean() < rule["unstable_mean"]:
        causes.append(f"agrees with itself at only {noise.mean():.2f} (below {rule['unstable_mean']:.2f})")
    if sim.threshold < rule["min_threshold"]:
        causes.append(
            f"its agreements spread so far that the alarm threshold would be {sim.threshold:.2f} (below "
            f"{rule['min_threshold']:.2f})"
        )
    if not causes:
        return None
    text = (
        f"The model is too unstable to monitor: retrained on unchanged data it {' and '.join(causes)}, so a "
        "drop in agreement cannot tell change from noise."
    )
    alternative = sim.alternative
    if alternative:
        text += (
            f" A more stable alternative is {alternative.get('algorithm_label', alternative['algorithm'])} with "
            f"{alternative['k']} segments (agreement with itself {alternative['noise_ari_mean']:.2f})."
        )
    else:
        text += " No k of the same algorithm and features is stable enough; review the features."
    return text


def maintenance_no_alarm(sim: Any) -> str | None:
    """How long the model stayed valid and between which agreements. Premise: no alarm, a stable model."""
    if sim.unstable or sim.alarm is not None:
        return None
    steps = sim.steps
    return (
        f"No alarm over {int(steps['days_since_start'].iloc[-1])} days: the agreement stayed between "
        f"{steps['ari'].min():.2f} and {steps['ari'].max():.2f}, never {sim.params['consecutive']} steps in a "
        f"row below {sim.threshold:.2f}."
    )


def maintenance_alarm(sim: Any) -> str | None:
    """The steps that raised the alarm and their agreements. Premise: the simulation raised an alarm."""
    if sim.alarm is None:
        return None
    rows = sim.steps.set_index("step").loc[sim.alarm.steps]
    return (
        f"Agreement below {sim.threshold:.2f} at {len(rows)} consecutive steps ({_day(rows['date'].iloc[0])} "
        f"to {_day(rows['date'].iloc[-1])}: " + ", ".join(f"{v:.2f}" for v in rows["ari"]) + ")."
    )


def maintenance_drift(feature: str | None, psi: float) -> str | None:
    """The feature that moved most at the alarm. Premise: a feature with a finite PSI."""
    if feature is None or not np.isfinite(psi):
        return None
    return f"The feature that moved most then is {feature} (PSI {psi:.3f} against the training window)."


def retrain_advice(
    delays_days: Sequence[int], period_days: int, obsolete_on: pd.Timestamp, confidence: str | None
) -> str | None:
    """The advice from the alarms of independent training dates.

    Premise: at least one alarm. "Retrain every N days" only from two or more distinct alarms (N = their
    median delay rounded down to whole steps, at least one step, see :func:`retrain_period_days`); one
    alarm gives its date and confidence, and says that one event does not make a period.
    """
    if not len(delays_days):
        return None
    if len(delays_days) >= 2:
        return (
            f"Retrained after each alarm, the model went stale again after {', '.join(map(str, delays_days))} "
            f"days ({len(delays_days)} distinct alarms from independent training dates): retrain every "
            f"{retrain_period_days(delays_days, period_days)} days, and at once when the alarm fires."
        )
    return (
        f"One alarm in the log: the model went stale on {_day(obsolete_on)}, {delays_days[0]} days after "
        f"training (confidence {confidence}). One event does not make a period: retrain when the alarm fires "
        f"and keep watching the agreement every {period_days} days."
    )


def retrain_period_days(delays_days: Sequence[int], period_days: int) -> int:
    """The retraining period: the median delay rounded down to whole steps, at least one step."""
    return max(int(np.median(delays_days)) // period_days * period_days, period_days)


def keep_watching(horizon_days: int, period_days: int) -> str:
    """What to do when no alarm fired over ``horizon_days``."""
    return (
        f"The model stayed valid for the {horizon_days} days watched; keep watching the agreement every "
        f"{period_days} days."
    )


def too_short_to_tell(reason: str, needed_days: int, available_days: int) -> str | None:
    """The "too short to tell" answer. Premise: the log has less history than the simulation needs."""
    if available_days >= needed_days:
        return None
    return (
        f"{reason[0].upper()}{reason[1:]}. No retraining period can be given from this log: it has "
        f"{available_days} days of history and the simulation needs {needed_days}."
    )


#: The verdicts of segkit.stability.Recommendation.
RETRAIN_VERDICTS: tuple[str, ...] = ("retrain_every", "alarm", "no_alarm", "unstable", "too_short")


def retrain_headline(verdict: str, days: int | None, obsolete_on: pd.Timestamp | None) -> str | None:
    """The recommendation's headline. Premise: a known verdict with its number (days, alarm date)."""
    if verdict == "retrain_every":
        return f"Recommendation: retrain every {days} days." if days else None
    if verdict == "alarm":
        if obsolete_on is None:
            return None
        return f"The model went stale on {_day(obsolete_on)}: retrain then, and keep watching."
    return {
        "unstable": "The model is too unstable to monitor.",
        "too_short": "The log is too short to tell when to retrain.",
        "no_alarm": "No retraining was needed over the period watched.",
    }.get(verdict)


def retrain_short(verdict: str, days: int | None, obsolete_on: pd.Timestamp | None) -> str | None:
    """The answer in a few words, for the run index. Premise as :func:`retrain_headline`."""
    if verdict == "retrain_every":
        return f"every {days} days" if days else None
    if verdict == "alarm":
        return f"now: stale since {obsolete_on.date().isoformat()}" if obsolete_on is not None else None
    return {
        "no_alarm": "not needed so far",
        "unstable": "model too unstable to monitor",
        "too_short": "log too short to tell",
    }.get(verdict)
