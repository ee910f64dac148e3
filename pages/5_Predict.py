"""Predict & what-if: score a file with reasons, choose who to contact, try what-ifs."""

from __future__ import annotations

import streamlit as st

from neuromkt.act.targeting import outcome_of, reach_at, targeting_table, top_rows
from neuromkt.figures.explain import token_attribution_html
from neuromkt.figures.metrics import lift_figure
from neuromkt.figures.predict import comparison_bars, score_histogram, targeting_figure
from neuromkt.ui import escape_markdown
from neuromkt.ui import predict_views as pv
from neuromkt.ui import whatif_views as wv
from neuromkt.ui.attention_views import chart
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import current_dataset, require_bundle

setup_page("Predict & what-if")
st.title("Predict & what-if")
st.caption(
    "Score new rows with the current model and see why each got its score, pick who to "
    "contact, and try what-if changes to one customer or session."
)

# ---------------------------------------------------------------- guard
bundle = require_bundle()
dataset = current_dataset()
outcome = f"{bundle.target} = {bundle.encoders.classes[1]}" if bundle.task == "binary" else ""
score_tab, target_tab, whatif_tab = st.tabs(["Score a file", "Who to contact", "What-if"])

# ---------------------------------------------------------------- score
with score_tab:
    source = pv.source_picker(dataset)
    scored = pv.score_controls(bundle, source) if source is not None else None
    if scored is None:
        scored = pv.current_scored()
        if scored is not None:
            st.caption(f"Showing the last scored file, {escape_markdown(scored.name)}.")
    if scored is not None:
        for note in scored.notes:
            st.info(escape_markdown(note), icon=":material/info:")
        pv.result_table(scored, bundle)
        pv.csv_button(
            "Download the scores (CSV)", scored.frame, file_name="scores.csv",
            key="predict_dl_scores",
        )  # fmt: skip

# ---------------------------------------------------------------- who to contact
with target_tab:
    if scored is None:
        st.info("Score a file first (the Score a file tab).", icon=":material/bolt:")
    else:
        top_pct = pv.top_pct_slider()
        rows = scored.headline_frame()  # the held-out rows when the file is the training data
        reach = reach_at(rows["score"].to_numpy(), outcome_of(bundle, rows), top_pct)
        pv.reach_metrics(reach, bundle, outcome or bundle.target, scored.where)
        gains = targeting_table(bundle, rows, n_bins=100)
        if gains is not None and reach.share_reached is not None:
            gains_col, lift_col = st.columns(2, gap="large")
            with gains_col:
                chart(
                    targeting_figure, gains, key="predict_gains", filename="who_to_contact",
                    top_share=top_pct / 100, reached_share=reach.share_reached, outcome=outcome,
                )  # fmt: skip
            with lift_col:
                deciles = targeting_table(bundle, rows)
                chart(lift_figure, deciles, key="predict_lift", filename="lift_by_decile")
            st.caption(
                f"If you contact the top {top_pct}% of rows by score, you reach "
                f"{reach.share_reached:.0%} of all rows with {escape_markdown(outcome)} — "
                f"{reach.lift or 0:.1f}× a random pick of the same size (on "
                f"{escape_markdown(scored.where)})."
            )
        else:
            st.info(
                f"This file has no '{escape_markdown(bundle.target)}' column, so the scores "
                "cannot be checked; here is how they are spread and where the cut falls.",
                icon=":material/info:",
            )
        chart(
            score_histogram, rows["score"], key="predict_hist",
            filename="score_distribution", threshold=reach.threshold, top_pct=top_pct,
        )  # fmt: skip
        pv.csv_button(
            f"Download the top {top_pct}% as a contact list (CSV)",
            top_rows(scored.frame, top_pct), file_name=f"contact_top_{top_pct}pct.csv",
            key="predict_dl_contacts",
        )  # fmt: skip

# ---------------------------------------------------------------- what-if
with whatif_tab:
    rows = wv.whatif_rows(bundle, source, dataset)
    if rows is None:
        st.info(
            "Pick rows the model can read in the Score a file tab to start from one of them.",
            icon=":material/info:",
        )
        st.stop()
    frame = rows.frame
    start = wv.whatif_start(frame, bundle, rows.key)
    form_col, result_col = st.columns([2, 3], gap="large")
    with form_col, st.container(border=True):
        edited = wv.whatif_form(start, bundle, frame)
    result = wv.whatif_result(bundle, start, edited)
    with result_col:
        wv.whatif_summary(result, bundle)
        chart(
            comparison_bars, result.bars("attribution"), key="predict_wi_attr",
            filename="whatif_attributions", title="What drives the score", unit=result.unit,
        )  # fmt: skip
        for column in [e.name for e in bundle.encoders.text]:
            before_col, after_col = st.columns(2)
            for col, version, row in ((before_col, "before", start), (after_col, "after", edited)):
                name = "original" if version == "before" else "edited"
                with col:
                    st.html(token_attribution_html(
                        row[column].iloc[0], result.token_values(column, version),
                        vmax=wv.token_vmax(result, column), label=f"{column} · {name}",
                    ))  # fmt: skip
        chart(
            comparison_bars, result.bars("attention"), key="predict_wi_att",
            filename="whatif_attention", title="What the model looks at", measure="attention",
        )  # fmt: skip
