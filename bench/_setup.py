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
from django.db import connection, connections  # noqa: E402


def fresh_database() -> None:
    connection.close()
    for path in VAR.glob("db.sqlite3*"):
        path.unlink()
    call_command("migrate", verbosity=0)


def open_database(name: str):
    """Another SQLite file under VAR, migrated, as a connection of its own (the side-by-side
    runs keep one open per size and switch between them with `use`); it is left in use."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict["NAME"] = str(VAR / name)
    use(wrapper)
    call_command("migrate", verbosity=0)
    return wrapper


def use(wrapper) -> None:
    """Make this open database connection the one Django calls "default"."""
    connections._connections.default = wrapper


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def add_app_passwords(fraction: float = 0.2, each: int = 3) -> int:
    """`each` app passwords for every 1/fraction-th mailbox (one shared hash, like load_demo's
    passwords: the benchmarks measure the panel and the daemons, not libxcrypt)."""
    from accounts.models import AppPassword, Mailbox

    shared = Mailbox.objects.values_list("password_hash", flat=True).first()
    step = round(1 / fraction)
    ids = Mailbox.objects.order_by("pk").values_list("pk", flat=True)[::step]
    rows = [
        AppPassword(mailbox_id=pk, name=f"device {slot}", slot=slot, password_hash=shared)
        for pk in ids
        for slot in range(1, each + 1)
    ]
    AppPassword.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
