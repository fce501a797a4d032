import io
import json
import os
import tarfile
import time

from django.core.management.base import BaseCommand

from core.management.commands._dump import dump
from export.dirty import config_state
from export.stage import staged_dir

# Where the rendered DKIM private keys sit in a generation: left out of a backup, where they would
# be in the clear. The rows hold them encrypted, and the next apply renders them again from those.
KEY_FILES = "generation/files/rspamd/dkim"


def _without_keys(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out the key files (a directory left out is not descended into), and anything that is
    neither a file nor a directory (restore refuses links)."""
    if member.name == KEY_FILES or not (member.isfile() or member.isdir()):
        return None
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


class Command(BaseCommand):
    help = (
        "Write a consistent backup to a tar.gz file, readable only by its owner: every row (password hashes, "
        "DKIM private keys encrypted with DKIM_ENCRYPTION_KEY) and the last applied generation without its "
        "DKIM key files. DKIM_ENCRYPTION_KEY is not in it: keep that separately."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, file: str, **options) -> None:
        rows = dump().encode()
        state = config_state()
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            self.add(tar, "database.json", rows)
            meta = {"format": 1, "created": time.time(), "generation": state.last_applied_generation}
            self.add(tar, "backup.json", json.dumps(meta).encode())
            if state.last_applied_generation and staged_dir(state.last_applied_generation).is_dir():
                tar.add(staged_dir(state.last_applied_generation), arcname="generation", filter=_without_keys)
        self.stdout.write(f"wrote {file} ({len(json.loads(rows))} rows; generation {meta['generation'] or 'none'})")

    @staticmethod
    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        tar.addfile(info, io.BytesIO(data))
