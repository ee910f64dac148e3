"""The standalone HTML report: one file to open offline, on any laptop or projector.

``build_report(bundle, frame)`` scores and explains the rows and writes one
self-contained HTML page: a header (data set, model, date), a plain-language
summary, the data, the model's quality, what it attends to, what drives its scores,
segments, top words or events, whether attention agrees with the attributions, three
rows explained and who to contact. The sections are in :mod:`neuromkt.report.sections`;
every chart comes from the figure function the dashboard uses, embedded with
``to_html(include_plotlyjs=False)``; plotly.js is inlined once, so the file needs no
network. Every piece of user text (data set, model and column names, values, tokens)
is escaped with ``html.escape``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from plotly.offline import get_plotlyjs

from neuromkt.act.drivers import IG_STEPS, pick_method
from neuromkt.act.scoring import validate_for_scoring
from neuromkt.explain.attention import compute_attention
from neuromkt.explain.attributions import attribute
from neuromkt.explain.noise import held_out_noise_floor
from neuromkt.explain.summaries import feature_ranking
from neuromkt.model.inference import predict
from neuromkt.progress import OnProgress, Tracker
from neuromkt.report.html import e
from neuromkt.report.sections import (
    ReportContext,
    agreement_section,
    attention_section,
    data_section,
    drivers_section,
    examples_section,
    quality_section,
    segments_section,
    summary_section,
    targeting_section,
    tokens_section,
)

if TYPE_CHECKING:
    from neuromkt.explain.attributions import Attribution
    from neuromkt.model.bundle import ModelBundle

__all__ = ["MAX_EXPLAIN_ROWS", "build_report"]

MAX_EXPLAIN_ROWS = 1_000  # rows explained for the attention and attribution sections

# ---------------------------------------------------------------- the page

# Long tokens and column names (no spaces to break at) wrap anywhere rather than widen
# the page: ``overflow-wrap:anywhere`` on the body, inherited by every element.
_CSS = """
:root{--brand:#4338CA;--ink:#1F2937;--muted:#64748B;--line:#E2E8F0;--bg:#F6F7FB}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:var(--bg);font:16px/1.55 -apple-system,
BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","PingFang SC",
"Microsoft YaHei",sans-serif;overflow-wrap:anywhere}
.wrap{max-width:1200px;margin:0 auto;padding:0 32px}
.hero{background:linear-gradient(135deg,#1E1B4B,#4338CA 60%,#6366F1);color:#fff;
padding:44px 0 36px}
.eyebrow{text-transform:uppercase;letter-spacing:.14em;font-size:12px;opacity:.8;margin:0 0 10px}
h1{font-size:40px;line-height:1.15;margin:0 0 14px;font-weight:700}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0;opacity:.92}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:14px;
margin-top:26px}
.kpi{background:rgba(255,255,255,.12);border:1px solid rgba(255,255,255,.18);
border-radius:12px;padding:12px 18px}
.kpi span{display:block;font-size:13px;opacity:.8}.kpi b{font-size:24px}
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
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.roles td:nth-child(2){white-space:nowrap;color:var(--muted)}
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


def _explain(
    bundle: ModelBundle, sample: pd.DataFrame, on_progress: OnProgress | None
) -> Attribution:
    method = pick_method(len(sample))
    target = None
    if bundle.task == "multiclass":
        common = np.bincount(predict(bundle, sample).argmax(axis=1)).argmax()
        target = bundle.encoders.classes[int(common)]
    return attribute(bundle, sample, method, target=target, steps=IG_STEPS, on_progress=on_progress)


def _body(ctx: ReportContext) -> list[str]:
    """Every section's HTML, in page order; the summary quotes the others' headlines."""
    quality, headline = quality_section(ctx)
    targeting, reach = targeting_section(ctx)
    agreement, agree = agreement_section(ctx)
    body = [summary_section(ctx, headline, reach, agree), data_section(ctx), quality]
    body += [attention_section(ctx), drivers_section(ctx), segments_section(ctx)]
    return [*body, tokens_section(ctx), agreement, examples_section(ctx), targeting]


def _header(
    ctx: ReportContext, dataset_name: str | None, now: datetime | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """The header's meta line (data set, model, date) and its key figures."""
    bundle, frame = ctx.bundle, ctx.frame
    name = dataset_name or str(frame.attrs.get("source_name") or "data set")
    date = (now or datetime.now()).strftime("%d %B %Y").lstrip("0")
    meta = [
        f"<span>Data set <b>{e(name)}</b></span>",
        f"<span>Model <b>{e(str(bundle.name))}</b></span>",
        f"<span>{e(date)}</span>",
    ]
    top = feature_ranking(ctx.attribution)["feature"].iloc[0] if len(ctx.maps.index) else "—"
    kpis = [("Rows", f"{len(frame):,}"), ("Outcome", ctx.outcome_word)]
    return meta, [*kpis, ("Strongest driver", str(top))]


def build_report(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    on_progress: OnProgress | None = None,
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
        on_progress: Called now and then with a :class:`neuromkt.progress.Progress`
            that counts rows through four passes: scoring every row, then reading the
            attention, computing the attributions and drawing the charts of the rows
            explained (``len(frame) + 3 × min(len(frame), max_rows)`` rows in all);
            with the outcome column, "Checking which columns stand out from noise"
            comes before the charts.
        dataset_name: The data set's name for the header (default: the file name in
            ``frame.attrs["source_name"]``).
        max_rows: Rows explained (a seeded sample of larger frames).
        now: The date shown (default: today).

    Raises:
        DataError: ``frame`` lacks columns the model reads, or one holds the wrong kind
            of values (all named in one message).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> page = nm.build_report(bundle, nm.load_sample("ecommerce").head(300), max_rows=100)
        >>> page.startswith("<!DOCTYPE html>"), '<section id="agreement">' in page
        (True, True)
    """
    validate_for_scoring(bundle, frame)
    n, s = len(frame), min(len(frame), max_rows)
    tracker = Tracker(on_progress, n + 3 * s)
    tracker.update(0, "Scoring the rows")
    pred = predict(bundle, frame, on_progress=tracker.part(0, "Scoring the rows"))
    scores = pred.max(axis=1) if pred.ndim == 2 else pred
    sample = frame.sample(max_rows, random_state=0).sort_index() if n > max_rows else frame
    sample = sample.reset_index(drop=True)
    maps = compute_attention(
        bundle, sample, on_progress=tracker.part(n, "Reading the model's attention")
    )
    attribution = _explain(bundle, sample, tracker.part(n + s, "Computing attributions"))
    classes = bundle.encoders.classes
    word = f"{bundle.target} = {classes[1]}" if bundle.task == "binary" else bundle.target
    if bundle.target in frame.columns:  # the noise floor needs the outcome
        tracker.update(n + 2 * s, "Checking which columns stand out from noise")
    noise, noise_rows = held_out_noise_floor(bundle, frame)
    ctx = ReportContext(bundle, frame, sample, scores, maps, attribution, word, noise, noise_rows)
    tracker.update(n + 2 * s, "Drawing the charts")
    body = _body(ctx)
    meta, kpis = _header(ctx, dataset_name, now)
    page = _page(title or f"What drives {bundle.target}", meta, kpis, body)
    tracker.update(tracker.total, "Done")
    return page
