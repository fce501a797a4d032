"""Write a rendered generation into the staging area the helper reads from."""

import hashlib
import json
import shutil
from pathlib import Path

from django.conf import settings

KEEP_STAGED = 5


def staged_dir(number: int) -> Path:
    return settings.STAGING_DIR / f"gen-{number}"


def _write(path: Path, data: bytes) -> None:
    # No fsync: staging is not the live configuration. After a crash a torn file fails its
    # SHA-256 in the manifest and the helper refuses it; the helper fsyncs what it installs.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def stage(number: int, files: dict[str, bytes]) -> Path:
    """STAGING/gen-N/files/<path> and STAGING/gen-N/manifest.json, complete before it has its name."""
    settings.STAGING_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = staged_dir(number)
    temporary = settings.STAGING_DIR / f".gen-{number}.tmp"
    for leftover in (target, temporary):
        shutil.rmtree(leftover, ignore_errors=True)
    for rel, data in files.items():
        _write(temporary / "files" / rel, data)
    manifest = {"generation": number, "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}}
    _write(temporary / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    temporary.rename(target)
    return target


def read_staged(number: int) -> dict[str, bytes]:
    base = staged_dir(number) / "files"
    if not base.is_dir():
        return {}
    return {str(path.relative_to(base)): path.read_bytes() for path in base.rglob("*") if path.is_file()}


def prune_staged(keep: set[int]) -> None:
    if not settings.STAGING_DIR.is_dir():
        return
    numbers = sorted(
        (int(p.name[4:]) for p in settings.STAGING_DIR.iterdir() if p.name.startswith("gen-") and p.name[4:].isdigit()),
        reverse=True,
    )
    for number in numbers[KEEP_STAGED:]:
        if number not in keep:
            shutil.rmtree(staged_dir(number), ignore_errors=True)
