"""Entry script of the dashboard, run by `streamlit run` (see `polybench dashboard`)."""

from polybench.dashboard.page import render

render()
