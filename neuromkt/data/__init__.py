"""Tables in: loading files, column roles and the schema, profiles, leakage, samples.

The first room of the data flow. It owns reading user files (CSV/TSV, Parquet,
Excel, JSON), the cleanup every table gets, the column roles and the checks a table
must pass before training, the column profiles and outcome rates a marketer looks at
first, the leakage check and the sample data sets with planted drivers.

It may import :mod:`neuromkt.errors` and third-party libraries only: no torch, no
model, no figures, no Streamlit.
"""
