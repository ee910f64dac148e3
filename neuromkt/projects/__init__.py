"""Projects and workspaces: what a user would miss after a reload, kept in ``$NEUROMKT_HOME``.

``store`` keeps projects (data set as Parquet, column roles, page settings, models in
the run registry) per workspace and checks the workspace on every access. This
package never imports Streamlit.
"""
