"""Django set up on a throwaway SQLite file database, for the benchmarks."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = Path(tempfile.mkdtemp(prefix="mailadmin-bench-"))
os.environ.update(
    MAILADMIN_VAR_DIR=str(VAR), DJANGO_SETTINGS_MODULE="mailadmin.settings", DEBUG="false", LOG_LEVEL="WARNING"
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def fresh_database() -> None:
    connection.close()
    for path in VAR.glob("db.sqlite3*"):
        path.unlink()
    call_command("migrate", verbosity=0)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]
