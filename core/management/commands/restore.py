import json
import shutil
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from domains.models import Domain
from export.dirty import mark_dirty
from export.models import ConfigState

# Models that moved to another app since backups of format 1 were first made.
MOVED_MODELS = {"accounts.auditentry": "audit.auditentry"}


def _rename_moved_models(database: Path) -> None:
    rows = json.loads(database.read_text())
    for row in rows:
        row["model"] = MOVED_MODELS.get(row["model"], row["model"])
    database.write_text(json.dumps(rows))


class Command(BaseCommand):
    help = "Restore a backup (manage.py backup) onto an empty installation; the next apply rewrites the daemons' files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, file: str, **options) -> None:
        if User.objects.exists() or Domain.objects.exists():
            raise CommandError("this installation is not empty: restore only onto a fresh, migrated database")
        with tarfile.open(file, "r:gz") as tar, tempfile.TemporaryDirectory() as scratch:
            tar.extractall(scratch, filter="data")
            meta = json.loads(Path(scratch, "backup.json").read_text())
            if meta.get("format") != 1:
                raise CommandError(f"{file} is not a mailadmin backup this version can read")
            database = Path(scratch, "database.json")
            _rename_moved_models(database)
            with transaction.atomic():
                call_command("loaddata", str(database), verbosity=0)
                ConfigState.objects.update(running_since=None)
                mark_dirty()
            generation = Path(scratch, "generation")
            target = settings.STAGING_DIR / f"gen-{meta.get('generation')}"
            if meta.get("generation") and generation.is_dir() and not target.exists():
                settings.STAGING_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
                shutil.copytree(generation, target)
        self.stdout.write(f"restored {file}; the apply worker writes the configuration out next")
