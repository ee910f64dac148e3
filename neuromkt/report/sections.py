"""The sections of the standalone HTML report, one function each.

Each section reads a :class:`ReportContext` (the model, the rows, their scores, the
attention and the attributions of the rows explained) and returns its HTML; some
also return a one-sentence headline for the summary at the top. Charts come from
the figure functions the dashboard uses. Every piece of user text (column names,
values, tokens) is escaped. :func:`neuromkt.report.document.build_report` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.act.drivers import driver_table, driver_texts
from neuromkt.act.in_short import driver_summary, in_short
from neuromkt.act.targeting import outcome_of, reach_at
from neuromkt.data.load import frame_fingerprint
from neuromkt.data.profile import overview_table, profile_columns
from neuromkt.errors import DataError
from neuromkt.explain.agreement import agreement_table, summarize_agreement, verdict
from neuromkt.explain.attention import AttentionMaps, global_features, position_values
from neuromkt.explain.attributions import METHODS
from neuromkt.explain.segments import OUTCOME, SCORE_DECILE, segment_labels, segment_table
from neuromkt.explain.summaries import (
    attribution_strip,
    feature_ranking,
    row_tokens,
    segment_attribution,
    token_ranking,
    waterfall_steps,
)
from neuromkt.explain.tokens import row_token_weights, token_outcome_table
from neuromkt.figures import attention as fa
from neuromkt.figures import explain as fe
from neuromkt.figures import metrics as fm
from neuromkt.figures.data import profile_overview_figure
from neuromkt.figures.predict import targeting_figure
from neuromkt.model.evaluation import evaluate_holdout, evaluate_rows, headline_rows, holdout_rows
from neuromkt.model.metrics import calibration_table, lift_table, pr_curve, roc_curve
from neuromkt.report.html import chart_html, e, grid_html, section_html, table_html

if TYPE_CHECKING:
    from neuromkt.explain.attributions import Attribution
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "TARGET_PCT",
    "ReportContext",
    "agreement_section",
    "attention_section",
    "data_section",
    "drivers_section",
    "examples_section",
    "quality_section",
    "segments_section",
    "summary_section",
    "targeting_section",
    "tokens_section",
]

TARGET_PCT = 20  # the "contact the top N%" example of the targeting section


@dataclass(frozen=True)
class ReportContext:
    """What every section reads."""

    bundle: ModelBundle
    frame: pd.DataFrame  # all rows
    sample: pd.DataFrame  # the rows explained (index 0..n-1)
    scores: np.ndarray  # one score per row of ``frame``
    maps: AttentionMaps  # attention of ``sample``
    attribution: Attribution  # of ``sample``
    outcome_word: str  # "purchased = 1" / "purchased"
    noise: pd.DataFrame | None = None  # neuromkt.explain.noise.noise_floor, if measurable
    noise_rows: str = ""  # the rows the noise floor was measured on, in words


def summary_section(
    ctx: ReportContext, headline: str | None, reach: str | None, agree: str | None
) -> str:
    """The "In short" list: the other sections' headlines (HTML) and the top drivers."""
    points = [p for p in (headline, *_driver_points(ctx), reach, agree) if p]
    items = "".join(f"<li>{p}</li>" for p in points)
    return section_html(
        "summary", "In short", "What the model learned, in plain words.",
        f'<ul class="summary">{items}</ul>',
    )  # fmt: skip


def _driver_points(ctx: ReportContext) -> list[str]:
    """Up to four sentences on the strongest drivers, in percentage points (escaped).

    The same sentences as the Explain page's "In short": effects in points of the
    outcome's chance, direction as the relation of value and effect, noise named.
    """
    summary = driver_summary(ctx.attribution, ctx.sample, ctx.bundle, noise=ctx.noise)
    return [e(line) for line in in_short(summary, ctx.outcome_word)]


def data_section(ctx: ReportContext) -> str:
    """Rows, columns, the outcome's rate, and each column with its role and values."""
    frame, bundle = ctx.frame, ctx.bundle
    roles = {c.name: c.role for c in bundle.schema.columns}
    profile = profile_columns(frame)
    profile["role"] = [roles.get(c, "not used") for c in profile["column"]]
    facts = [("Rows", f"{len(frame):,}"), ("Columns", f"{frame.shape[1]:,}")]
    y = outcome_of(bundle, frame)
    if y is not None and bundle.task == "binary":
        facts.append((f"Rate of {ctx.outcome_word}", f"{np.nanmean(y):.1%}"))
    cards = "".join(f'<div class="fact"><span>{e(k)}</span><b>{e(v)}</b></div>' for k, v in facts)
    shown = profile[["column", "role", "missing_pct", "summary"]].rename(
        columns={"missing_pct": "missing %"}
    )
    return section_html(
        "data", "The data", "Each column, the role it plays in the model, and its values.",
        f'<div class="facts">{cards}</div>',
        grid_html(table_html(shown, {"missing %": "{:.1f}"}, css="roles"),
              chart_html(profile_overview_figure(overview_table(profile)))),
    )  # fmt: skip


def quality_section(ctx: ReportContext) -> tuple[str, str | None]:
    """The model-quality section and its one-sentence headline."""
    bundle, frame = ctx.bundle, ctx.frame
    try:
        if frame_fingerprint(frame) == bundle.data_fingerprint:
            ev = evaluate_holdout(bundle, frame, holdout_rows(bundle, frame))
        else:
            ev = evaluate_rows(bundle, frame, None, where="rows of this data")
        where = ev.where
    except DataError:
        return "", _stored_headline(bundle)
    charts, headline = [], None
    if ev.task == "binary":
        auc = ev.metrics["roc_auc"]
        headline = f"The model ranks rows {_auc_words(auc)}: AUC {auc:.2f} on {e(where)}."
        charts = [fm.roc_figure(_thin(roc_curve(ev.y, ev.pred)), auc=auc),
                  fm.pr_figure(_thin(pr_curve(ev.y, ev.pred)),
                               average_precision=ev.metrics["pr_auc"],
                               base_rate=ev.metrics["positive_rate"]),
                  fm.calibration_figure(calibration_table(ev.y, ev.pred))]  # fmt: skip
    elif ev.task == "regression":
        from neuromkt.model.metrics import residuals_frame

        charts = [fm.residuals_figure(residuals_frame(ev.y, ev.pred))]
        headline = f"Predictions are off by {ev.metrics['mae']:,.3g} on average on {e(where)}."
    else:
        from neuromkt.model.metrics import confusion_matrix

        matrix = confusion_matrix(ev.y, ev.pred.argmax(axis=1), ev.classes)
        charts = [fm.confusion_figure(matrix)]
        headline = f"The model picks the right class {ev.metrics['accuracy']:.0%} of the time."
    metrics = pd.DataFrame(
        [(_METRICS[k], v) for k, v in ev.metrics.items() if k in _METRICS],
        columns=["measure", "value"],
    )
    body = grid_html(table_html(metrics, {"value": "{:.3f}"}), *(chart_html(f) for f in charts))
    caption = f"Measured on {e(where)} (rows with a known outcome)."
    if ev.task == "binary":
        caption += f" Accuracy counts a row as positive from a score of {ev.threshold:.2f}" + (
            ", the cut-off with the best F1 on the validation rows." if ev.threshold != 0.5 else "."
        )
    return section_html("quality", "How good is the model?", caption, body), headline


_METRICS = {
    "roc_auc": "AUC: how well scores rank (1 = perfect, 0.5 = guessing)",
    "pr_auc": "PR-AUC: precision over all recall levels",
    "log_loss": "Log loss (lower is better)",
    "brier": "Brier score (lower is better)",
    "positive_rate": "Share of rows with the outcome",
    "accuracy": "Accuracy (share of rows classed right)",
    "macro_f1": "Macro F1",
    "macro_auc": "Macro AUC",
    "rmse": "RMSE: typical error",
    "mae": "MAE: mean absolute error",
    "r2": "R²: share of variation explained",
}


def _thin(curve: pd.DataFrame, points: int = 400) -> pd.DataFrame:
    """At most ``points`` evenly spaced rows of a curve, first and last kept."""
    if len(curve) <= points:
        return curve
    keep = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
    return curve.iloc[keep].reset_index(drop=True)


def _auc_words(auc: float) -> str:
    if auc >= 0.8:
        return "well"
    return "usefully" if auc >= 0.7 else ("weakly" if auc >= 0.6 else "barely better than chance")


def _stored_headline(bundle: ModelBundle) -> str | None:
    auc = (bundle.metrics.get("test") or bundle.metrics.get("validation") or {}).get("roc_auc")
    return f"On held-out rows the model reached AUC {auc:.2f}." if auc is not None else None


def _with_noise(table: pd.DataFrame, ctx: ReportContext) -> pd.DataFrame:
    """``table`` with the noise floor's ``distinguishable`` flag per ``feature``, if known."""
    if ctx.noise is None:
        return table
    flags = ctx.noise.set_index("feature")["distinguishable"]
    return table.assign(distinguishable=table["feature"].map(flags).astype("boolean"))


def _noise_sentence(ctx: ReportContext) -> str:
    """One sentence on the hatched bars (escaped), or nothing."""
    if ctx.noise is None or ctx.noise["distinguishable"].all():
        return ""
    return (
        " Hatched bars are not distinguishable from noise: shuffling that column between "
        f"rows ({e(ctx.noise_rows)}) does not make the predictions measurably worse, so "
        "its place in the ranking may be chance."
    )


def attention_section(ctx: ReportContext) -> str:
    """The share of attention each column gets, averaged over the rows explained."""
    ranking = _with_noise(global_features(ctx.maps), ctx)
    return section_html(
        "attention", "What the model looks at",
        "The share of the model's attention each column gets, averaged over the rows. "
        "Attention shows what the model reads, not whether it raises or lowers a score."
        + _noise_sentence(ctx),
        chart_html(fa.feature_bar(ranking, title="Columns ranked by attention")),
    )  # fmt: skip


def drivers_section(ctx: ReportContext) -> str:
    """Columns ranked by attribution, and one dot per row and column."""
    unit = ctx.attribution.output.label
    ranking = _with_noise(feature_ranking(ctx.attribution), ctx)
    strip = fe.attribution_strip_figure(
        attribution_strip(ctx.attribution, ctx.sample, max_points=500),
        title="Each dot is one row",
    )
    method = METHODS[ctx.attribution.method].label
    return section_html(
        "drivers", "What drives the score",
        f"{e(method)} attributions on the {e(unit)}: how much each column moved "
        "each row's score away from a typical row. Red raises the score, blue lowers it."
        + _noise_sentence(ctx),
        grid_html(chart_html(fe.ranking_bar(ranking, unit=unit, title="Columns ranked by impact")),
              chart_html(strip)),
    )  # fmt: skip


def segments_section(ctx: ReportContext) -> str:
    """Attention and impact per segment (by outcome, else by predicted-score decile)."""
    by = OUTCOME if ctx.bundle.target in ctx.sample.columns else SCORE_DECILE
    labels = segment_labels(ctx.maps, ctx.sample, by)
    what = "outcome" if by == OUTCOME else "predicted-score decile"
    return section_html(
        "segments", "Segments",
        f"Rows split by {what}. Left: where attention goes more (red) or less (blue) than "
        "across all rows. Right: how strongly each column drives the score in each segment.",
        grid_html(
            chart_html(fa.segment_heatmap(segment_table(ctx.maps, labels), diverging=True,
                                       title=f"Attention by {what}")),
            chart_html(fe.segment_attribution_heatmap(segment_attribution(ctx.attribution, labels),
                                                   title=f"Impact by {what}")),
        ),
    )  # fmt: skip


def tokens_section(ctx: ReportContext) -> str:
    """Per text column, the tokens with the largest impact; empty without text columns."""
    parts = []
    min_count = max(5, len(ctx.sample) // 200)
    for enc in ctx.bundle.encoders.text:
        ranked = token_ranking(ctx.attribution, min_count=min_count)
        ranked = ranked[ranked["column"] == enc.name].head(12)
        table = ranked.rename(columns={"signed_mean": "mean impact", "count": "rows"})
        table = table[["token", "rows", "mean impact"]]
        chart = ""
        if ctx.bundle.target in ctx.sample.columns and ctx.bundle.task != "regression":
            split = token_outcome_table(ctx.maps, ctx.sample, column=enc.name,
                                        min_count=min_count, top=12)  # fmt: skip
            chart = chart_html(fa.token_outcome_bar(split, title=f"Attention to {enc.name} tokens"))
        parts.append(
            f"<h3>{e(enc.name)}</h3>"
            + grid_html(table_html(table, {"mean impact": "{:+.3f}"}), chart)
        )
    if not parts:
        return ""
    return section_html(
        "tokens", "Top words and events",
        "The tokens with the largest impact (mean attribution in the rows that contain "
        "them: + raises the score) and how much attention they get by outcome.",
        *parts,
    )  # fmt: skip


def agreement_section(ctx: ReportContext) -> tuple[str, str | None]:
    """Whether attention ranks the inputs as the attributions do; with a headline."""
    table = agreement_table(ctx.attribution, position_values(ctx.maps), ctx.bundle.encoders)
    summary = summarize_agreement(table)
    words = verdict(summary, ctx.attribution.method)
    charts = [chart_html(fe.tau_histogram(table, scope="features", title="Columns"))]
    if ctx.bundle.encoders.text:
        charts.append(chart_html(fe.tau_histogram(table, scope="tokens", title="Words and events")))
    body = f'<p class="verdict">{e(words)}</p>' + grid_html(*charts)
    section = section_html(
        "agreement", "Does attention tell the truth?",
        "Per row, how closely the attention ranking matches the attribution ranking "
        "(Kendall τ: 1 = same order, 0 = unrelated), against a uniform-attention reference.",
        body,
    )  # fmt: skip
    return section, e(words.split(". ")[0].rstrip(".") + ".")


def _example_rows(ctx: ReportContext) -> list[tuple[str, int]]:
    scores = ctx.maps.scores
    y = outcome_of(ctx.bundle, ctx.sample)
    order = np.argsort(scores, kind="stable")
    high = order[::-1]
    if y is not None and ctx.bundle.task == "binary":
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        high = pos[np.argsort(-scores[pos], kind="stable")] if len(pos) else high
        order = neg[np.argsort(scores[neg], kind="stable")] if len(neg) else order
    middle = int(np.argsort(np.abs(scores - np.median(scores)), kind="stable")[0])
    picks = [("A top-scoring row", int(high[0])), ("A middle-of-the-road row", middle),
             ("A low-scoring row", int(order[0]))]  # fmt: skip
    seen: set[int] = set()
    return [(name, row) for name, row in picks if not (row in seen or seen.add(row))]


def examples_section(ctx: ReportContext) -> str:
    """Three rows (top, middle, low score) explained in words, shading and a waterfall."""
    picks = _example_rows(ctx)
    drivers = driver_texts(driver_table(ctx.attribution.raw, ctx.bundle.encoders, ctx.sample),
                           len(ctx.sample))  # fmt: skip
    cards = []
    for name, row in picks:
        score = ctx.maps.scores[row]
        shown = f"{score:.1%}" if ctx.bundle.task != "regression" else f"{score:,.4g}"
        texts = []
        for enc in ctx.bundle.encoders.text:
            cell = ctx.sample[enc.name].iat[row]
            tokens = row_tokens(ctx.attribution, ctx.sample, row)
            texts.append(fe.token_attribution_html(cell, tokens[tokens["column"] == enc.name],
                                                   label=f"{enc.name} · impact"))  # fmt: skip
            weights = row_token_weights(ctx.maps, ctx.sample, row)
            texts.append(fa.highlight_html(cell, weights[weights["column"] == enc.name],
                                           label=f"{enc.name} · attention"))  # fmt: skip
        steps = waterfall_steps(ctx.attribution, ctx.sample, row)
        text = (
            f'<h3>{e(name)} <span class="score">score {e(shown)}</span></h3>'
            f'<p class="drivers">Top drivers: {e(drivers[row]) or "none"}</p>' + "".join(texts)
        )
        chart = chart_html(fe.waterfall_figure(steps, title="From a typical row to this one"))
        cards.append(f'<div class="example">{grid_html(f"<div>{text}</div>", chart)}</div>')
    return section_html(
        "examples", "Three rows, explained",
        "Why the model scored these rows as it did: the top drivers in words, the words "
        "or events shaded by impact and by attention, and the score built up step by step.",
        *cards,
    )  # fmt: skip


def targeting_section(ctx: ReportContext) -> tuple[str, str | None]:
    """Who to contact (binary outcomes only; else empty), with a headline."""
    y = outcome_of(ctx.bundle, ctx.frame)
    if y is None or ctx.bundle.task != "binary":
        return "", None
    rows, where = headline_rows(ctx.bundle, ctx.frame, frame_fingerprint(ctx.frame))
    scores = ctx.scores if rows is None else ctx.scores[rows]
    y = y if rows is None else y[rows]
    known = ~np.isnan(y)
    reach = reach_at(scores[known], y[known], TARGET_PCT)
    share = reach.share_reached or 0.0
    table = lift_table(y[known].astype("int64"), scores[known], n_bins=100)
    fig = targeting_figure(table, top_share=TARGET_PCT / 100, reached_share=share,
                           outcome=ctx.outcome_word)  # fmt: skip
    sentence = (
        f"Contacting the top {TARGET_PCT}% of rows by score reaches {share:.0%} of all "
        f"rows with {e(ctx.outcome_word)}: {reach.lift or 0:.1f}× what a random pick would"
        f" (on {e(where)})."
    )
    return section_html(
        "targeting", "Who to contact",
        sentence + " The curve shows the same for every share of rows contacted.",
        grid_html(chart_html(fig), chart_html(fm.lift_figure(lift_table(y[known].astype("int64"),
                                                                scores[known])))),
    ), sentence  # fmt: skip
