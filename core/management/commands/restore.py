import json
import re
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
from factors.actions import seal_plain_totp_keys

# Models that moved to another app since backups of format 1 were first made.
MOVED_MODELS = {"accounts.auditentry": "audit.auditentry"}

# What manage.py backup writes, and nothing else: two files, and the staged generation's
# manifest and files, each path component a plain name (no "", ".", "..", or hidden name).
FILES = {"database.json", "backup.json", "generation/manifest.json"}
DIRECTORIES = {"generation", "generation/files"}
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _expected(member: tarfile.TarInfo) -> bool:
    if member.name in FILES:
        return member.isfile()
    if member.name in DIRECTORIES:
        return member.isdir()
    parts = member.name.split("/")
    staged = parts[:2] == ["generation", "files"] and len(parts) > 2
    return staged and all(NAME.fullmatch(part) for part in parts[2:]) and (member.isfile() or member.isdir())


def _check_members(tar: tarfile.TarFile, file: str) -> None:
    seen = set()
    for member in tar.getmembers():
        if not _expected(member) or member.name in seen:
            raise CommandError(f"{file} holds {member.name!r}, which a mailadmin backup does not: refused")
        seen.add(member.name)
    if missing := {"database.json", "backup.json"} - seen:
        raise CommandError(f"{file} is not a mailadmin backup: it lacks {', '.join(sorted(missing))}")


def _read_meta(tar: tarfile.TarFile, file: str) -> dict:
    try:
        meta = json.load(tar.extractfile("backup.json"))
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != 1:
        raise CommandError(f"{file} is not a mailadmin backup this version can read")
    generation = meta.get("generation")
    # It names a directory under STAGING_DIR: a whole number only (bool is an int to Python).
    if generation is not None and not (type(generation) is int and generation > 0):
        raise CommandError(f"{file} names its generation {generation!r}, not a positive whole number: refused")
    return meta


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
        try:
            tar = tarfile.open(file, "r:gz")
            tar.getmembers()  # reads the whole archive: a damaged one fails here, before anything changes
        except (tarfile.TarError, EOFError, OSError) as e:
            raise CommandError(f"{file} is not a readable tar.gz file: {e}") from None
        with tar, tempfile.TemporaryDirectory() as scratch:
            _check_members(tar, file)
            meta = _read_meta(tar, file)
            tar.extractall(scratch, filter="data")
            database = Path(scratch, "database.json")
            _rename_moved_models(database)
            with transaction.atomic():
                call_command("loaddata", str(database), verbosity=0)
                # No process's in-memory rendering matches the restored rows: the next apply renders all.
                ConfigState.objects.update(running_since=None, renderer="")
                seal_plain_totp_keys()  # a backup from before authenticator app keys were sealed
                mark_dirty()
            # The last applied generation, for the preview's diff; backups leave out its DKIM key
            # files (the next apply renders them again from the rows).
            generation = Path(scratch, "generation")
            if meta.get("generation") and generation.is_dir():
                target = settings.STAGING_DIR / f"gen-{meta['generation']}"
                if not target.exists():
                    settings.STAGING_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
                    shutil.copytree(generation, target)
        self.stdout.write(f"restored {file}; the apply worker writes the configuration out next")
