"""What a trained model looks at, and whether that is the truth.

It owns mapping token positions back to features and tokens, attention (per feature,
per token, by layer and head, rolled out, by segment), Captum attributions with their
convergence deltas, the agreement between the two, and the tidy tables that figures
and the command line draw from.

It may import :mod:`neuromkt.model`, :mod:`neuromkt.data` and :mod:`neuromkt.errors`;
never actions, reports, figures or Streamlit.
"""
