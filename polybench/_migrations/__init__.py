"""polybench's Alembic migration scripts, as installed from a wheel.

In a checkout the scripts live in the top-level `alembic/` folder and this package is empty;
pyproject.toml maps `alembic/` onto `polybench/_migrations` when a wheel is built, and
`polybench.db.script_location()` looks here first and in the checkout second.
"""
