"""Write a rendered generation into the staging area the helper reads from."""

import hashlib
import json
import os
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


def digests_of(files: dict[str, bytes], known: dict[str, str] | None = None, same: dict[str, bytes] | None = None):
    """SHA-256 of each file; a file that is the very object in `same` keeps its digest from `known`."""
    known, same = known or {}, same or {}
    return {
        rel: known[rel] if same.get(rel) is data and rel in known else hashlib.sha256(data).hexdigest()
        for rel, data in files.items()
    }


def stage(
    number: int,
    files: dict[str, bytes],
    digests: dict[str, str] | None = None,
    previous: tuple[int, dict[str, str]] | None = None,
) -> Path:
    """STAGING/gen-N/files/<path> and STAGING/gen-N/manifest.json, complete before it has its name.

    With `previous` (a staged generation's number and digests), a file whose digest is the same
    is hard-linked from there instead of written again: staging is the panel's own, and the
    helper copies what it installs, so no link ever reaches a live generation."""
    settings.STAGING_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = staged_dir(number)
    temporary = settings.STAGING_DIR / f".gen-{number}.tmp"
    for leftover in (target, temporary):
        shutil.rmtree(leftover, ignore_errors=True)
    digests = digests or digests_of(files)
    before_dir, before = (staged_dir(previous[0]) / "files", previous[1]) if previous else (None, {})
    for rel, data in files.items():
        path = temporary / "files" / rel
        if before.get(rel) == digests[rel]:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(before_dir / rel, path, follow_symlinks=False)
                continue
            except OSError:
                pass  # pruned or missing: write it
        _write(path, data)
    manifest = {"generation": number, "files": digests}
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
