"""Names of the columns :func:`neuromkt.predict.score_frame` adds to a scored file.

They live here, apart from :mod:`neuromkt.predict`, so that :mod:`neuromkt.targeting`
can read a scored file without importing the scoring module (which re-exports it).
"""

from __future__ import annotations

__all__ = ["DRIVERS_COLUMN", "PREDICTED_COLUMN", "SCORE_COLUMN"]

SCORE_COLUMN = "score"  # P(positive), the predicted value, or the top class's probability
PREDICTED_COLUMN = "predicted"  # multiclass only: the most likely class
DRIVERS_COLUMN = "top_drivers"  # e.g. "“cart” in events +0.62, returning_visitor=yes +0.31"
