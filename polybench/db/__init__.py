"""polybench's results database: every run, its epochs and its environment, in SQL.

SQLAlchemy 2 models and Alembic migrations of polybench's own `polybench_*` tables, next to
Optuna's tables in the same database (SQLite for one machine, PostgreSQL for many workers).

>>> from polybench.db import open_store
>>> store = open_store("sqlite:///polybench.db")   # doctest: +SKIP
>>> store.runs(study="quickstart", phase="confirm")  # doctest: +SKIP
"""

from polybench.db._errors import StorageError
from polybench.db._frames import EPOCH_COLUMNS, LOSS_COST_COLUMNS, RUN_COLUMNS, STUDY_COLUMNS
from polybench.db._migrations import (
    MigrationStatus,
    current,
    downgrade,
    head_revision,
    script_location,
    upgrade,
)
from polybench.db._models import (
    ENVIRONMENT_KEYS,
    EPOCH_METRICS,
    METRICS,
    PHASES,
    RUN_STATES,
    SEED_KEYS,
    TABLE_PREFIX,
    VERSION_TABLE,
)
from polybench.db._store import Store, open_store
from polybench.db._url import (
    DEFAULT_STORAGE_URL,
    STORAGE_ENV,
    display_url,
    resolve_storage_url,
    sqlalchemy_url,
)

__all__ = [
    "DEFAULT_STORAGE_URL",
    "ENVIRONMENT_KEYS",
    "EPOCH_COLUMNS",
    "EPOCH_METRICS",
    "LOSS_COST_COLUMNS",
    "METRICS",
    "PHASES",
    "RUN_COLUMNS",
    "RUN_STATES",
    "SEED_KEYS",
    "STORAGE_ENV",
    "STUDY_COLUMNS",
    "TABLE_PREFIX",
    "VERSION_TABLE",
    "MigrationStatus",
    "StorageError",
    "Store",
    "current",
    "display_url",
    "downgrade",
    "head_revision",
    "open_store",
    "resolve_storage_url",
    "script_location",
    "sqlalchemy_url",
    "upgrade",
]
