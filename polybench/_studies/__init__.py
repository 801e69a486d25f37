"""polybench's example study files, as installed from a wheel.

In a checkout the files live in the top-level `studies/` folder and this package is empty;
pyproject.toml maps `studies/` onto `polybench/_studies` when a wheel is built, and
`polybench.studies.example_folder()` looks here first and in the checkout second.
"""
