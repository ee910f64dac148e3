"""The standalone HTML report: one file to open offline, on any laptop or projector.

``build_report(bundle, frame)`` scores and explains the rows and writes one
self-contained HTML page: a header (data set, model, date), a plain-language
summary, the data, the model's quality, what it attends to, what drives its scores,
segments, top words or events, whether attention agrees with the attributions, three
rows explained and who to contact. Every chart comes from the figure function the
dashboard uses, embedded with ``to_html(include_plotlyjs=False)``; plotly.js is
inlined once, so the file needs no network. Every piece of user text (data set,
model and column names, values, tokens) is escaped with ``html.escape``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from plotly.offline import get_plotlyjs

from neuromkt.agreement import agreement_table, summarize_agreement, verdict
from neuromkt.attention import (
    AttentionMaps,
    compute_attention,
    global_features,
    position_values,
)
from neuromkt.attention_segments import OUTCOME, SCORE_DECILE, segment_labels, segment_table
from neuromkt.attention_tokens import row_token_weights, token_outcome_table
from neuromkt.data import frame_fingerprint
from neuromkt.errors import DataError
from neuromkt.evaluation import evaluate_rows, holdout_rows
from neuromkt.explain import METHODS, attribute, feature_ranking, token_ranking
from neuromkt.explain_summary import (
    attribution_strip,
    row_tokens,
    segment_attribution,
    waterfall_steps,
)
from neuromkt.figures import attention as fa
from neuromkt.figures import explain as fe
from neuromkt.figures import metrics as fm
from neuromkt.figures.data import profile_overview_figure
from neuromkt.figures.predict import targeting_figure
from neuromkt.inference import predict
from neuromkt.metrics import calibration_table, lift_table, pr_curve, roc_curve
from neuromkt.predict import (
    IG_STEPS,
    Progress,
    driver_table,
    driver_texts,
    outcome_of,
    pick_method,
    reach_at,
    validate_for_scoring,
)
from neuromkt.profile import overview_table, profile_columns

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from neuromkt.bundle import ModelBundle
    from neuromkt.explain import Attribution

__all__ = ["MAX_EXPLAIN_ROWS", "TARGET_PCT", "build_report"]

MAX_EXPLAIN_ROWS = 1_000  # rows explained for the attention and attribution sections
TARGET_PCT = 20  # the "contact the top N%" example of the targeting section
e = html.escape  # every user string goes through this


@dataclass(frozen=True)
class _Context:
    """What every section reads."""

    bundle: ModelBundle
    frame: pd.DataFrame  # all rows
    sample: pd.DataFrame  # the rows explained (index 0..n-1)
    scores: np.ndarray  # one score per row of ``frame``
    maps: AttentionMaps  # attention of ``sample``
    attribution: Attribution  # of ``sample``
    outcome_word: str  # "purchased = 1" / "purchased"


def _figure(fig: go.Figure) -> str:
    body = fig.to_html(
        full_html=False, include_plotlyjs=False, default_width="100%",
        config={"displaylogo": False, "responsive": True, "displayModeBar": False},
    )  # fmt: skip
    return f'<div class="chart">{body}</div>'


def _section(anchor: str, title: str, caption: str, *parts: str) -> str:
    return (
        f'<section id="{anchor}"><h2>{e(title)}</h2><p class="caption">{caption}</p>'
        + "".join(parts)
        + "</section>"
    )


def _grid(*parts: str) -> str:
    return '<div class="grid">' + "".join(p for p in parts if p) + "</div>"


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, css: str = "") -> str:
    formats = formats or {}
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            fmt = formats.get(column)
            shown = fmt.format(value) if fmt and pd.notna(value) else str(value)
            numeric = isinstance(value, int | float | np.number)
            cells.append(f"{'<td class=num>' if numeric else '<td>'}{e(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ---------------------------------------------------------------- sections


def _summary(ctx: _Context, headline: str | None, reach: str | None, agree: str | None) -> str:
    points = [p for p in (headline, *_driver_points(ctx), reach, agree) if p]
    items = "".join(f"<li>{p}</li>" for p in points)
    return _section(
        "summary", "In short", "What the model learned, in plain words.",
        f'<ul class="summary">{items}</ul>',
    )  # fmt: skip


def _driver_points(ctx: _Context) -> list[str]:
    """Up to four sentences on the strongest drivers and their direction (escaped)."""
    values, sample = ctx.attribution.values.features, ctx.sample
    kinds = {c: k for k, cs in _kinds(ctx.bundle).items() for c in cs}
    points = []
    for feature in feature_ranking(ctx.attribution)["feature"][:4]:
        attr = values[feature]
        if kinds[feature] == "text":
            points.append(_token_point(ctx, feature))
        elif kinds[feature] == "numeric":
            x = pd.to_numeric(sample[feature], errors="coerce")
            rho = x.rank().corr(attr.rank())
            way = "raises" if rho > 0 else "lowers"
            points.append(
                f"<b>{e(feature)}</b>: the higher it is, the more it {way} the score."
                if abs(rho) >= 0.3
                else f"<b>{e(feature)}</b> matters, but not in one simple direction."
            )
        else:
            points.append(_level_point(feature, attr, sample[feature]))
    return [p for p in points if p]


def _level_point(feature: str, attr: pd.Series, cells: pd.Series) -> str:
    """E.g. "channel: “email” raises the score most (+0.42 on average), “display” …"."""
    by_level = attr.groupby(cells.astype("string").fillna("(missing)")).mean()
    best, worst = by_level.idxmax(), by_level.idxmin()
    parts = []
    if by_level[best] > 0.01:
        parts.append(f"“{e(str(best))}” raises the score most ({by_level[best]:+.2f} on average)")
    if by_level[worst] < -0.01:
        parts.append(f"“{e(str(worst))}” lowers it most ({by_level[worst]:+.2f})")
    if not parts:
        return ""
    return f"<b>{e(feature)}</b>: " + ", ".join(parts) + ", compared with a typical row."


def _quoted(tokens: pd.Series) -> str:
    """“a”, “b” and “c” (escaped)."""
    words = [f"“{e(str(t))}”" for t in tokens]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _token_point(ctx: _Context, column: str) -> str:
    tokens = token_ranking(ctx.attribution, min_count=max(5, len(ctx.sample) // 100))
    tokens = tokens[tokens["column"] == column]
    up = tokens[tokens["signed_mean"] > 0].nlargest(3, "signed_mean")["token"]
    down = tokens[tokens["signed_mean"] < 0].nsmallest(2, "signed_mean")["token"]
    parts = []
    if len(up):
        parts.append(f"{_quoted(up)} raise the score most")
    if len(down):
        parts.append(f"{_quoted(down)} lower it")
    return f"<b>{e(column)}</b>: " + "; ".join(parts) + "." if parts else ""


def _kinds(bundle: ModelBundle) -> dict[str, list[str]]:
    enc = bundle.encoders
    return {
        "numeric": [x.name for x in enc.numeric],
        "categorical": [x.name for x in enc.categorical],
        "text": [x.name for x in enc.text],
    }


def _data(ctx: _Context) -> str:
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
    return _section(
        "data", "The data", "Each column, the role it plays in the model, and its values.",
        f'<div class="facts">{cards}</div>',
        _grid(_table(shown, {"missing %": "{:.1f}"}, css="roles"),
              _figure(profile_overview_figure(overview_table(profile)))),
    )  # fmt: skip


def _quality(ctx: _Context) -> tuple[str, str | None]:
    """The model-quality section and its one-sentence headline."""
    bundle, frame = ctx.bundle, ctx.frame
    try:
        if frame_fingerprint(frame) == bundle.data_fingerprint:
            rows, where = holdout_rows(bundle, frame)["test"], "the rows held out in training"
        else:
            rows, where = None, "these rows"
        ev = evaluate_rows(bundle, frame, rows, where=where)
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
        from neuromkt.metrics import residuals_frame

        charts = [fm.residuals_figure(residuals_frame(ev.y, ev.pred))]
        headline = f"Predictions are off by {ev.metrics['mae']:,.3g} on average on {e(where)}."
    else:
        from neuromkt.metrics import confusion_matrix

        matrix = confusion_matrix(ev.y, ev.pred.argmax(axis=1), ev.classes)
        charts = [fm.confusion_figure(matrix)]
        headline = f"The model picks the right class {ev.metrics['accuracy']:.0%} of the time."
    metrics = pd.DataFrame(
        [(_METRICS[k], v) for k, v in ev.metrics.items() if k in _METRICS],
        columns=["measure", "value"],
    )
    body = _grid(_table(metrics, {"value": "{:.3f}"}), *(_figure(f) for f in charts))
    caption = f"Measured on {e(where)} ({len(ev.y):,} rows with a known outcome)."
    return _section("quality", "How good is the model?", caption, body), headline


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


def _attention(ctx: _Context) -> str:
    return _section(
        "attention", "What the model looks at",
        "The share of the model's attention each column gets, averaged over the rows. "
        "Attention shows what the model reads, not whether it raises or lowers a score.",
        _figure(fa.feature_bar(global_features(ctx.maps), title="Columns ranked by attention")),
    )  # fmt: skip


def _drivers(ctx: _Context) -> str:
    unit = ctx.attribution.output.label
    ranking = feature_ranking(ctx.attribution)
    strip = fe.attribution_strip_figure(
        attribution_strip(ctx.attribution, ctx.sample, max_points=500),
        title="Each dot is one row",
    )
    method = METHODS[ctx.attribution.method].label
    return _section(
        "drivers", "What drives the score",
        f"{e(method)} attributions on the {e(unit)}: how much each column moved "
        "each row's score away from a typical row. Red raises the score, blue lowers it.",
        _grid(_figure(fe.ranking_bar(ranking, unit=unit, title="Columns ranked by impact")),
              _figure(strip)),
    )  # fmt: skip


def _segments(ctx: _Context) -> str:
    by = OUTCOME if ctx.bundle.target in ctx.sample.columns else SCORE_DECILE
    labels = segment_labels(ctx.maps, ctx.sample, by)
    what = "outcome" if by == OUTCOME else "predicted-score decile"
    return _section(
        "segments", "Segments",
        f"Rows split by {what}. Left: where attention goes more (red) or less (blue) than "
        "across all rows. Right: how strongly each column drives the score in each segment.",
        _grid(
            _figure(fa.segment_heatmap(segment_table(ctx.maps, labels), diverging=True,
                                       title=f"Attention by {what}")),
            _figure(fe.segment_attribution_heatmap(segment_attribution(ctx.attribution, labels),
                                                   title=f"Impact by {what}")),
        ),
    )  # fmt: skip


def _tokens(ctx: _Context) -> str:
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
            chart = _figure(fa.token_outcome_bar(split, title=f"Attention to {enc.name} tokens"))
        parts.append(
            f"<h3>{e(enc.name)}</h3>" + _grid(_table(table, {"mean impact": "{:+.3f}"}), chart)
        )
    if not parts:
        return ""
    return _section(
        "tokens", "Top words and events",
        "The tokens with the largest impact (mean attribution in the rows that contain "
        "them: + raises the score) and how much attention they get by outcome.",
        *parts,
    )  # fmt: skip


def _agreement(ctx: _Context) -> tuple[str, str | None]:
    table = agreement_table(ctx.attribution, position_values(ctx.maps), ctx.bundle.encoders)
    summary = summarize_agreement(table)
    words = verdict(summary, ctx.attribution.method)
    charts = [_figure(fe.tau_histogram(table, scope="features", title="Columns"))]
    if ctx.bundle.encoders.text:
        charts.append(_figure(fe.tau_histogram(table, scope="tokens", title="Words and events")))
    body = f'<p class="verdict">{e(words)}</p>' + _grid(*charts)
    section = _section(
        "agreement", "Does attention tell the truth?",
        "Per row, how closely the attention ranking matches the attribution ranking "
        "(Kendall τ: 1 = same order, 0 = unrelated), against a uniform-attention reference.",
        body,
    )  # fmt: skip
    return section, e(words.split(". ")[0].rstrip(".") + ".")


def _example_rows(ctx: _Context) -> list[tuple[str, int]]:
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


def _examples(ctx: _Context) -> str:
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
        chart = _figure(fe.waterfall_figure(steps, title="From a typical row to this one"))
        cards.append(f'<div class="example">{_grid(f"<div>{text}</div>", chart)}</div>')
    return _section(
        "examples", "Three rows, explained",
        "Why the model scored these rows as it did: the top drivers in words, the words "
        "or events shaded by impact and by attention, and the score built up step by step.",
        *cards,
    )  # fmt: skip


def _targeting(ctx: _Context) -> tuple[str, str | None]:
    y = outcome_of(ctx.bundle, ctx.frame)
    if y is None or ctx.bundle.task != "binary":
        return "", None
    known = ~np.isnan(y)
    reach = reach_at(ctx.scores[known], y[known], TARGET_PCT)
    share = reach.share_reached or 0.0
    table = lift_table(y[known].astype("int64"), ctx.scores[known], n_bins=100)
    fig = targeting_figure(table, top_share=TARGET_PCT / 100, reached_share=share,
                           outcome=ctx.outcome_word)  # fmt: skip
    sentence = (
        f"Contacting the top {TARGET_PCT}% of rows by score reaches {share:.0%} of all "
        f"rows with {e(ctx.outcome_word)}: {reach.lift or 0:.1f}× what a random pick would."
    )
    return _section(
        "targeting", "Who to contact",
        sentence + " The curve shows the same for every share of rows contacted.",
        _grid(_figure(fig), _figure(fm.lift_figure(lift_table(y[known].astype("int64"),
                                                                ctx.scores[known])))),
    ), sentence  # fmt: skip


# ---------------------------------------------------------------- the page

_CSS = """
:root{--brand:#4338CA;--ink:#1F2937;--muted:#64748B;--line:#E2E8F0;--bg:#F6F7FB}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:var(--bg);font:16px/1.55 -apple-system,
BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","PingFang SC",
"Microsoft YaHei",sans-serif}
.wrap{max-width:1200px;margin:0 auto;padding:0 32px}
.hero{background:linear-gradient(135deg,#1E1B4B,#4338CA 60%,#6366F1);color:#fff;
padding:44px 0 36px}
.eyebrow{text-transform:uppercase;letter-spacing:.14em;font-size:12px;opacity:.8;margin:0 0 10px}
h1{font-size:40px;line-height:1.15;margin:0 0 14px;font-weight:700;word-break:break-word}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0;opacity:.92}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:14px;
margin-top:26px}
.kpi{background:rgba(255,255,255,.12);border:1px solid rgba(255,255,255,.18);
border-radius:12px;padding:12px 18px}
.kpi span{display:block;font-size:13px;opacity:.8}.kpi b{font-size:24px;word-break:break-word}
nav{display:flex;flex-wrap:wrap;gap:4px 20px;padding-top:18px;font-size:14px}
nav a{color:var(--brand);text-decoration:none}nav a:hover{text-decoration:underline}
section{background:#fff;border:1px solid var(--line);border-radius:14px;padding:26px 32px;
margin:20px 0;box-shadow:0 1px 3px rgba(15,23,42,.05)}
h2{font-size:26px;margin:0 0 4px}
h2:before{content:"";display:inline-block;width:6px;height:22px;background:var(--brand);
border-radius:3px;margin-right:12px;vertical-align:-3px}
h3{font-size:18px;margin:20px 0 8px}
.caption{color:var(--muted);margin:0 0 18px;max-width:860px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:22px;
align-items:start}
.chart{min-width:0}
table{border-collapse:collapse;width:100%;font-size:14px}
th{text-align:left;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);
padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top;word-break:break-word}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td:first-child{white-space:nowrap}.roles td:nth-child(2){white-space:nowrap;color:var(--muted)}
ul.summary{font-size:18px;line-height:1.6;padding-left:22px;margin:0}ul.summary li{margin:8px 0}
.facts{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:16px}
.fact{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:8px 16px}
.fact span{display:block;color:var(--muted);font-size:13px}.fact b{font-size:20px}
.example{border-top:1px solid var(--line);padding-top:6px;margin-top:14px}
.score{font-weight:500;color:var(--brand);background:#EEF2FF;border-radius:999px;
padding:2px 10px;font-size:14px;margin-left:8px}
.drivers{margin:4px 0 10px}
.verdict{font-size:17px;background:#EEF2FF;border-left:4px solid var(--brand);
padding:12px 16px;border-radius:6px}
footer{color:var(--muted);font-size:13px;padding:8px 32px 40px}
@media print{body{background:#fff}section{break-inside:avoid;box-shadow:none}
.hero{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
_TOC = [("summary", "In short"), ("data", "Data"), ("quality", "Model quality"),
        ("attention", "Attention"), ("drivers", "Drivers"), ("segments", "Segments"),
        ("tokens", "Words & events"), ("agreement", "Agreement"), ("examples", "Examples"),
        ("targeting", "Who to contact")]  # fmt: skip


def _page(title: str, meta: list[str], kpis: list[tuple[str, str]], body: list[str]) -> str:
    present = "".join(body)
    toc = "".join(f'<a href="#{a}">{e(t)}</a>' for a, t in _TOC if f'id="{a}"' in present)
    cards = "".join(f'<div class="kpi"><span>{e(k)}</span><b>{e(v)}</b></div>' for k, v in kpis)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<header class="hero"><div class="wrap"><p class="eyebrow">neuromkt · attention '
        f'report</p><h1>{e(title)}</h1><p class="meta">{"".join(meta)}</p>'
        f'<div class="kpis">{cards}</div></div></header>'
        f'<div class="wrap"><nav>{toc}</nav><main>{present}</main></div>'
        '<footer class="wrap">Made with neuromkt. Attention and attributions explain this '
        "model's scores, not cause and effect in the world.</footer></body></html>"
    )


def _explain(bundle: ModelBundle, sample: pd.DataFrame, say: Progress) -> Attribution:
    method = pick_method(len(sample))
    target = None
    if bundle.task == "multiclass":
        common = np.bincount(predict(bundle, sample).argmax(axis=1)).argmax()
        target = bundle.encoders.classes[int(common)]
    return attribute(
        bundle, sample, method, target=target, steps=IG_STEPS,
        on_progress=lambda done, total: say(0.2 + 0.5 * done / max(total, 1),
                                            "Computing attributions…"),
    )  # fmt: skip


def build_report(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    progress: Progress | None = None,
    dataset_name: str | None = None,
    max_rows: int = MAX_EXPLAIN_ROWS,
    now: datetime | None = None,
) -> str:
    """The whole report as one self-contained HTML page.

    Args:
        bundle: A trained model.
        frame: The rows to report on (the model's columns; the outcome column adds
            the quality and targeting sections).
        title: The report's title (user text; escaped); a default names the outcome.
        progress: Called with (fraction done, what is happening).
        dataset_name: The data set's name for the header (default: the file name in
            ``frame.attrs["source_name"]``).
        max_rows: Rows explained (a seeded sample of larger frames).
        now: The date shown (default: today).

    Raises:
        DataError: ``frame`` lacks columns the model reads, or one holds the wrong kind
            of values (all named in one message).
    """
    say = progress or (lambda fraction, message: None)
    validate_for_scoring(bundle, frame)
    say(0.02, "Scoring the rows…")
    pred = predict(bundle, frame)
    scores = pred.max(axis=1) if pred.ndim == 2 else pred
    sample = frame.sample(max_rows, random_state=0).sort_index() if len(frame) > max_rows else frame
    sample = sample.reset_index(drop=True)
    say(0.1, "Reading the model's attention…")
    maps = compute_attention(bundle, sample)
    attribution = _explain(bundle, sample, say)
    classes = bundle.encoders.classes
    word = f"{bundle.target} = {classes[1]}" if bundle.task == "binary" else bundle.target
    ctx = _Context(bundle, frame, sample, scores, maps, attribution, word)
    say(0.75, "Drawing the charts…")
    quality, headline = _quality(ctx)
    targeting, reach = _targeting(ctx)
    agreement, agree = _agreement(ctx)
    body = [_summary(ctx, headline, reach, agree), _data(ctx), quality, _attention(ctx)]
    body += [_drivers(ctx), _segments(ctx), _tokens(ctx), agreement, _examples(ctx), targeting]
    name = dataset_name or str(frame.attrs.get("source_name") or "data set")
    date = (now or datetime.now()).strftime("%d %B %Y").lstrip("0")
    meta = [f"<span>Data set <b>{e(name)}</b></span>", f"<span>{e(date)}</span>"]
    meta.insert(1, f"<span>Model <b>{e(str(bundle.name))}</b></span>")
    top = feature_ranking(attribution)["feature"].iloc[0] if len(maps.index) else "—"
    kpis = [("Rows", f"{len(frame):,}"), ("Outcome", word), ("Strongest driver", str(top))]
    say(0.95, "Writing the page…")
    page = _page(title or f"What drives {bundle.target}", meta, kpis, body)
    say(1.0, "Done.")
    return page
