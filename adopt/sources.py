"""Where the hand-built host's files are read from: the host itself, or an archive of them.

Both are read-only and read by absolute path, as the host's own configuration names its files
(`table virtuals file:/etc/smtpd/virtuals`, `path = "/var/lib/rspamd/dkim/…"`), so one reader
follows those names whichever the source is:

- `Directory("/")` is the live host (`manage.py adopt` run on it). `Directory(root)` reads a copy
  of its files under `root` (a configuration naming /etc/smtpd/virtuals is read from
  root/etc/smtpd/virtuals).
- `Archive(data)` is a tar file (gzip, bzip2 or xz; made with `tar czf host.tgz /etc/… …`), held
  in memory: what a superadmin uploads. Its members are found by their path without the leading
  "/", and symbolic links inside it are followed (at most MAX_LINKS steps, never out of it).

Every file is read whole, at most MAX_FILE bytes; an archive's members together at most
MAX_TOTAL bytes once unpacked, so a small upload cannot unpack into gigabytes.
"""

import fnmatch
import io
import posixpath
import tarfile
import zlib
from pathlib import Path

MAX_FILE = 64 * 1024 * 1024
MAX_TOTAL = 256 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_LINKS = 8


class SourceError(ValueError):
    """The source as a whole cannot be read (not an archive, too large)."""


class Missing(LookupError):
    """This one file is not in the source (or cannot be read): its reason."""


def _absolute(path: str) -> str:
    if not path.startswith("/"):
        raise Missing(f"{path} is not an absolute path")
    return posixpath.normpath(path)


class Directory:
    def __init__(self, root: str | Path = "/") -> None:
        self.root = Path(root)
        self.name = "this host" if str(root) == "/" else str(root)
        # Names such as "vmail" in the configuration can be looked up on this machine.
        self.live = str(root) == "/"

    def read(self, path: str) -> bytes:
        target = self.root / _absolute(path).lstrip("/")
        try:
            with open(target, "rb") as f:
                data = f.read(MAX_FILE + 1)
        except FileNotFoundError:
            raise Missing(f"{path} does not exist") from None
        except IsADirectoryError:
            raise Missing(f"{path} is a directory") from None
        except OSError as e:
            raise Missing(f"{path} cannot be read ({e.strerror})") from None
        if len(data) > MAX_FILE:
            raise Missing(f"{path} is larger than {MAX_FILE // 1024 // 1024} MB")
        return data

    def exists(self, path: str) -> bool:
        return (self.root / _absolute(path).lstrip("/")).exists()

    def glob(self, pattern: str) -> list[str]:
        """Absolute paths matching a shell pattern (Dovecot's `!include conf.d/*.conf`)."""
        relative = _absolute(pattern).lstrip("/")
        return sorted("/" + str(p.relative_to(self.root)) for p in self.root.glob(relative) if p.is_file())


class Archive:
    def __init__(self, data: bytes, name: str = "the archive") -> None:
        self.name = name
        self.live = False
        try:
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
            members, total = [], 0
            # Counted while reading: a compressed archive is unpacked to find each next member.
            for member in archive:
                members.append(member)
                total += member.size if member.isfile() else 0
                if len(members) > MAX_MEMBERS:
                    raise SourceError(f"The archive has more than {MAX_MEMBERS:,} files.")
                if total > MAX_TOTAL:
                    raise SourceError(f"The archive unpacks to more than {MAX_TOTAL / 1e6:.0f} MB.")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise SourceError(f"This is not a tar archive (gzip, bzip2 or xz compressed, or plain): {e}.") from None
        self._archive = archive
        self._members = {posixpath.normpath("/" + m.name.lstrip("./").lstrip("/")): m for m in members}

    def _member(self, path: str) -> tarfile.TarInfo:
        path = _absolute(path)
        for _ in range(MAX_LINKS + 1):
            member = self._members.get(path)
            if member is None:
                raise Missing(f"{path} is not in {self.name}")
            if not member.issym():
                return member
            target = member.linkname
            path = posixpath.normpath(
                target if target.startswith("/") else posixpath.join(posixpath.dirname(path), target)
            )
        raise Missing(f"{path}: more than {MAX_LINKS} symbolic links in a row in {self.name}")

    def read(self, path: str) -> bytes:
        member = self._member(path)
        if member.islnk():  # a hard link: the file it names
            member = self._member("/" + member.linkname.lstrip("/"))
        if not member.isfile():
            raise Missing(f"{path} is not a file in {self.name}")
        if member.size > MAX_FILE:
            raise Missing(f"{path} is larger than {MAX_FILE // 1024 // 1024} MB")
        extracted = self._archive.extractfile(member)
        if extracted is None:
            raise Missing(f"{path} cannot be read from {self.name}")
        return extracted.read(MAX_FILE + 1)

    def exists(self, path: str) -> bool:
        try:
            self._member(path)
        except Missing:
            return False
        return True

    def glob(self, pattern: str) -> list[str]:
        pattern = _absolute(pattern)
        return sorted(
            name
            for name, member in self._members.items()
            if member.isfile()
            and posixpath.dirname(name) == posixpath.dirname(pattern)
            and fnmatch.fnmatchcase(posixpath.basename(name), posixpath.basename(pattern))
        )


Source = Directory | Archive
