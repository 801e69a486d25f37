"""The polybench dashboard, for `streamlit run app/dashboard.py` from a checkout.

`polybench dashboard [--storage URL] [--port P]` runs the same app from the installed package
(`polybench/dashboard/`); without --storage the app reads `POLYBENCH_STORAGE`, else
`sqlite:///polybench.db` in the working directory.
"""

from polybench.dashboard.page import render

render()
