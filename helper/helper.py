#!/usr/bin/env python3
"""mailadmin's privileged helper: installs a staged generation of the mail daemons'
configuration and reloads them. Standard library only; no Django, no shell.

The panel (unprivileged) renders every file into STAGING/gen-N/ with a manifest.json of
SHA-256 sums, then sends {"op": "apply", "generation": N} over a unix socket. This helper:

1. admits only the panel's uid (SO_PEERCRED) and one JSON line of at most 4 KiB, a flat object
   sent within a few seconds; each connection has its own thread, so a slow or idle client
   never delays another's answer, while applies and reloads still run one at a time (a lock);
2. copies only paths on a fixed allowlist, each with a fixed owner, group and mode, opening
   every staged path component with O_NOFOLLOW (a symlink in staging is refused), checking
   the SHA-256 of each file, writing with fsync, then fsync of each directory;
3. lays the files out as ROOT/etc/mailadmin/generations/S (S: its own counter), renamed into
   place only when complete, and runs the daemons' own checkers (smtpd -n, doveconf -n,
   rspamadm configtest) on it, with the generation's paths in place of "current";
4. switches ROOT/etc/mailadmin/current, a symlink, to the new generation in one rename, so the
   daemons see either the whole old or the whole new generation, never a mix, whenever this
   process or the machine stops;
5. reloads only what changed, with fixed argv: doveadm reload (users file, dovecot.conf),
   smtpctl update table T (a table), a restart (smtpd.conf: SIGHUP would kill smtpd), an
   Rspamd reload (DKIM). If a reload fails, "current" goes back to the previous generation
   and the same reloads run again.

Daemon-facing paths (/etc/smtpd.conf, /etc/dovecot/dovecot.conf, …) are symlinks into
"current", made once; a file found there first is kept as PATH.mailadmin-orig.

usage: helper.py --config /etc/mailadmin/helper.json
"""

import argparse
import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import socketserver
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback

MAX_REQUEST = 4096
MAX_DEPTH = 2  # requests are flat objects: {"op": "apply", "generation": 7}
READ_TIMEOUT = 5.0  # seconds a client has to send its request line
MAX_FILE = 512 * 1024 * 1024
MAX_ENVELOPES = 2000
# A mail address in the panel's stored form: what "measure_usage" accepts as a user name.
USER = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
# Run as the mail user: {"domain/local.quota": text} on stdin; writes each file that does not
# exist yet (O_EXCL, no symlink followed), with the directory's group, and prints how many.
USAGE_WRITER = """
import json, os, sys
base = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
written = 0
for rel, text in json.load(sys.stdin).items():
    domain, name = rel.split("/")
    try:
        os.mkdir(domain, 0o2770, dir_fd=base)
    except FileExistsError:
        pass
    folder = os.open(domain, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=base)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o660, dir_fd=folder)
    except FileExistsError:
        os.close(folder)
        continue
    os.write(fd, text.encode())
    os.close(fd)
    os.close(folder)
    written += 1
print(written)
"""
TABLES = ("domains", "virtuals", "vusers", "senderaddrs")
# App password files, tried in turn after the mailbox's own password (export.render.APP_PASSWORD_SLOTS).
APP_PASSWORD_SLOTS = 10
# OpenSMTPD authenticates through PAM (service "smtpd"): this fixed file, written by the helper
# itself and never from staged content, checks the same files Dovecot does. `nodelay` matters:
# PAM runs in smtpd's root parent process, and pam_pwdfile's delay after a wrong password
# would hold everyone's AUTH (measured: ~2.5 s each). pam_deny ends the stack, so a name that
# is in no file never falls through to Debian's "other" service (system accounts).
PAM_SMTPD = """# Installed by mailadmin's helper (helper/helper.py, PAM_SMTPD); replaced at every apply.
# OpenSMTPD checks mail passwords here: the mailbox's own, then each app password slot.
{lines}
auth required pam_deny.so
account required pam_permit.so
"""

# relative path in a generation -> (owner, group, mode)
FILES = {
    "dovecot/dovecot.conf": ("root", "root", 0o644),
    "dovecot/users": ("root", "dovecot", 0o640),
    "dovecot/passwords": ("root", "dovecot", 0o640),
    **{f"dovecot/app-passwords-{n}": ("root", "dovecot", 0o640) for n in range(1, APP_PASSWORD_SLOTS + 1)},
    "smtpd/smtpd.conf": ("root", "root", 0o600),  # holds the SRS key; smtpd reads it as root
    **{f"smtpd/{table}": ("root", "opensmtpd", 0o640) for table in TABLES},
    "smtpd/mailname": ("root", "root", 0o644),
    "smtpd/filter-rspamd": ("root", "root", 0o755),
    "smtpd/mail-lmtp": ("root", "root", 0o755),  # run at each delivery: changing it reloads nothing
    "rspamd/local.d/dkim_signing.conf": ("root", "root", 0o644),
}
PATTERNS = [
    (re.compile(r"rspamd/dkim/[a-z0-9][a-z0-9.-]{0,252}\.[a-z0-9][a-z0-9-]{0,62}\.key"), ("root", "_rspamd", 0o640)),
    (re.compile(r"mta-sts/[a-z0-9][a-z0-9.-]{0,252}\.txt"), ("root", "root", 0o644)),
    # Sieve scripts are read by each user's own delivery process (the mail user), and change
    # nothing a daemon has loaded: Dovecot reads them at each delivery, so none is reloaded.
    (
        re.compile(r"sieve/[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9_-]+(\.[a-z0-9_-]+)*\.sieve"),
        ("root", "root", 0o644),
    ),
]
# daemon-facing path under ROOT -> file in the current generation
LINKS = {
    "etc/smtpd.conf": "smtpd/smtpd.conf",
    "etc/dovecot/dovecot.conf": "dovecot/dovecot.conf",
    "etc/dovecot/users": "dovecot/users",
    "etc/rspamd/local.d/dkim_signing.conf": "rspamd/local.d/dkim_signing.conf",
    **{f"etc/smtpd/{name}": f"smtpd/{name}" for name in (*TABLES, "mailname")},
}
CONFIGS = ("smtpd/smtpd.conf", "dovecot/dovecot.conf", "rspamd/local.d/dkim_signing.conf")


class Refused(Exception):
    """The request cannot be carried out; nothing was changed."""


class HandBuilt(Refused):
    """The first apply would replace a mail host built by hand that the panel has not adopted."""

    def __init__(self, found: list[str]) -> None:
        super().__init__(
            f"this host already serves mail from tables built by hand ({', '.join(found)}): the first apply "
            "would put the panel's own in their place and that mail would stop. Adopt the host first "
            "(README: Adopting a host built by hand), or have a superadmin confirm on the Apply page that "
            "the panel replaces it (the files are kept beside their links as *.mailadmin-orig)"
        )
        self.found = found


def file_rule(rel: str) -> tuple[str, str, int]:
    if rel in FILES:
        return FILES[rel]
    for pattern, rule in PATTERNS:
        if pattern.fullmatch(rel):
            return rule
    raise Refused(f"{rel!r} is not a file the helper installs")


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_staged(base: str, rel: str) -> bytes:
    """Read base/rel without following any symlink on the way (the staging area is the panel's)."""
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as e:
        raise Refused(f"cannot read staged {rel}: {e.strerror}") from None
    try:
        parts = rel.split("/")
        for part in parts[:-1]:
            next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    except OSError as e:
        raise Refused(f"cannot read staged {rel}: {e.strerror}") from None
    finally:
        os.close(fd)
    try:
        info = os.fstat(file_fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            raise Refused(f"staged {rel} is not a regular file of at most {MAX_FILE} bytes")
        chunks = []
        while chunk := os.read(file_fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(file_fd)


def write_public(base: str, rel: str, data: bytes) -> str:
    """Write base/rel as 0644, its missing directories 0755, whatever the umask; return its path."""
    path = os.path.join(base, rel)
    directory = os.path.dirname(path)
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for directory in reversed(missing):
        os.mkdir(directory, 0o755)
        os.chmod(directory, 0o755)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        os.fchmod(fd, 0o644)
    return path


def copy_keeping_mode(source: str, target: str) -> None:
    """Copy a file with its mode, owner and group; the copy is never readable by more users than
    the original, not even while it is being written (created 0600, given its mode at the end)."""
    with open(source, "rb") as src:
        info = os.fstat(src.fileno())
        mode = stat.S_IMODE(info.st_mode) & 0o777
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            try:
                os.fchown(fd, info.st_uid, info.st_gid)
            except PermissionError:  # unprivileged (development): the copy is ours, in our group
                if info.st_gid != os.getegid():
                    mode &= ~0o070
            os.fchmod(fd, mode)


class Helper:
    def __init__(self, config: dict) -> None:
        self.root = os.path.abspath(config["root"])
        self.staging = os.path.abspath(config["staging"])
        self.privileged = bool(config.get("privileged", os.geteuid() == 0))
        self.keep = int(config.get("keep_generations", 5))
        self.check = config.get("check", {})
        self.reload_commands = config.get("reload", {})
        self.rspamd_confdir = config.get("rspamd_confdir", "/etc/rspamd")
        self.queries = config.get("query", {})
        self.usage = config.get("usage", {})
        self.base = os.path.join(self.root, "etc/mailadmin")
        self.generations = os.path.join(self.base, "generations")
        self.current = os.path.join(self.base, "current")
        os.makedirs(self.generations, mode=0o755, exist_ok=True)
        for leftover in os.listdir(self.generations):
            path = os.path.join(self.generations, leftover)
            if leftover.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)
            elif leftover.endswith(".digests") and not os.path.isdir(path.removesuffix(".digests")):
                os.unlink(path)  # its generation was never renamed into place
        if os.path.exists(self.current):
            # The daemons' paths may be new (a fresh container) or replaced (a package upgrade).
            self.ensure_links()

    # --- installing -------------------------------------------------------------------

    def owner_ids(self, owner: str, group: str) -> tuple[int, int]:
        if not self.privileged:
            return -1, -1  # development: keep our own uid and gid, modes still apply
        try:
            return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
        except KeyError as e:
            raise Refused(f"no such user or group on this system: {e.args[0]}") from None

    def write_file(self, directory: str, rel: str, data: bytes) -> None:
        owner, group, mode = file_rule(rel)
        uid, gid = self.owner_ids(owner, group)
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if uid != -1:
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def next_sequence(self) -> int:
        numbers = [int(name) for name in os.listdir(self.generations) if name.isdigit()]
        return max(numbers, default=0) + 1

    def install(self, generation: int) -> str:
        source = os.path.join(self.staging, f"gen-{generation}")
        try:
            manifest = json.loads(read_staged(source, "manifest.json"))
            files = manifest["files"]
            if manifest.get("generation") != generation or not isinstance(files, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError, Refused):
            raise Refused(f"staged generation {generation} has no valid manifest") from None
        missing = set(FILES) - set(files)
        if missing:
            raise Refused(f"staged generation {generation} lacks {', '.join(sorted(missing))}")
        sequence = self.next_sequence()
        final = os.path.join(self.generations, str(sequence))
        temporary = final + ".tmp"
        os.mkdir(temporary, 0o755)
        # A file the live generation already has, byte for byte (its recorded SHA-256, checked
        # when this helper installed it), is hard-linked from there instead of copied: the cost
        # of an apply follows what changed. Only files this helper wrote are ever linked, never
        # a staged one, and installed files are never written again, so a link changes nothing.
        live = self.current_generation()
        installed = self.recorded_digests(live) if live else {}
        try:
            for rel, digest in sorted(files.items()):
                file_rule(rel)
                if installed.get(rel) == digest and self.link_installed(live, temporary, rel):
                    continue
                data = read_staged(os.path.join(source, "files"), rel)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise Refused(f"staged {rel} does not match its manifest")
                self.write_file(temporary, rel, data)
            with open(os.path.join(temporary, "GENERATION"), "w") as f:
                f.write(f"{generation}\n")
                f.flush()
                os.fsync(f.fileno())
            for directory, _, _ in os.walk(temporary):
                fsync_dir(directory)
            self.record_digests(final, files)
            os.rename(temporary, final)
            fsync_dir(self.generations)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return final

    def link_installed(self, live: str, directory: str, rel: str) -> bool:
        """Link rel from the live generation if it is a plain file with today's owner and mode."""
        source = os.path.join(live, rel)
        owner, group, mode = file_rule(rel)
        uid, gid = self.owner_ids(owner, group)
        try:
            found = os.lstat(source)
            if not stat.S_ISREG(found.st_mode) or stat.S_IMODE(found.st_mode) != mode:
                return False
            if uid != -1 and (found.st_uid, found.st_gid) != (uid, gid):
                return False
            os.makedirs(os.path.dirname(os.path.join(directory, rel)), mode=0o755, exist_ok=True)
            os.link(source, os.path.join(directory, rel), follow_symlinks=False)
        except OSError:
            return False
        return True

    def record_digests(self, generation_dir: str, files: dict[str, str]) -> None:
        """generations/S.digests: the SHA-256 of each file of generation S, as checked on install."""
        path = generation_dir + ".digests"
        with open(path + ".tmp", "w") as f:
            json.dump(files, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.rename(path + ".tmp", path)

    def recorded_digests(self, generation_dir: str) -> dict[str, str]:
        try:
            with open(generation_dir + ".digests") as f:
                digests = json.load(f)
        except (OSError, ValueError):
            return {}  # installed before digests were kept: nothing is linked, everything copied
        return digests if isinstance(digests, dict) else {}

    # --- checking ---------------------------------------------------------------------

    def run_checks(self, generation_dir: str, touched: set[str]) -> None:
        """Run the checkers of the daemons whose files changed on the new generation, its paths
        standing in for "current" (rspamadm configtest alone takes about half a second)."""
        # A checker runs only if a file it reads changed: doveconf never opens the users file,
        # rspamadm configtest never opens the keys; smtpd -n parses every table.
        read_by_checker = {rel for rel in touched if rel.startswith("smtpd/") or rel in CONFIGS}
        daemons = {rel.split("/")[0] for rel in read_by_checker}
        checks = {daemon: argv for daemon, argv in self.check.items() if daemon in daemons}
        if not checks:
            return
        # The scratch directory stays 0700 until every file in it has its final mode.
        with tempfile.TemporaryDirectory(prefix="check-", dir=self.base) as scratch:
            relocated = {}
            for rel in CONFIGS:
                with open(os.path.join(generation_dir, rel), "rb") as f:
                    text = f.read().replace(self.current.encode() + b"/", generation_dir.encode() + b"/")
                relocated[rel] = write_public(scratch, rel, text)
            # Rspamd reads the live local.d and override.d beside ours; their files may be
            # root-only (passwords, keys), so each copy keeps its mode, owner and group.
            confdir = os.path.join(scratch, "rspamd-confdir")
            os.mkdir(confdir, 0o755)
            os.chmod(confdir, 0o755)
            for sub in ("local.d", "override.d"):
                live = os.path.join(self.rspamd_confdir, sub)
                if os.path.isdir(live):
                    shutil.copytree(
                        live,
                        os.path.join(confdir, sub),
                        symlinks=False,
                        ignore_dangling_symlinks=True,
                        copy_function=copy_keeping_mode,
                    )
            ours = os.path.join(confdir, "local.d/dkim_signing.conf")
            if os.path.lexists(ours):
                os.unlink(ours)  # the live one, which is the current generation's
            with open(relocated["rspamd/local.d/dkim_signing.conf"], "rb") as f:
                write_public(confdir, "local.d/dkim_signing.conf", f.read())
            os.chmod(scratch, 0o755)
            values = {
                "smtpd_conf": relocated["smtpd/smtpd.conf"],
                "dovecot_conf": relocated["dovecot/dovecot.conf"],
                "rspamd_confdir": confdir,
            }
            for daemon, argv in sorted(checks.items()):
                result = run([arg.format(**values) for arg in argv])
                if result.returncode != 0:
                    output = (result.stdout + result.stderr).strip().splitlines()[-5:]
                    raise Refused(f"{daemon} rejected the new configuration: {' | '.join(output)}")

    # --- switching and reloading -------------------------------------------------------

    def current_generation(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except FileNotFoundError:
            return None
        return os.path.join(self.base, target)

    def switch(self, generation_dir: str) -> None:
        link = self.current + ".new"
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.relpath(generation_dir, self.base), link)
        os.rename(link, self.current)
        fsync_dir(self.base)

    def ensure_links(self) -> None:
        for rel, target in LINKS.items():
            path = os.path.join(self.root, rel)
            wanted = os.path.join(self.current, target)
            if os.path.islink(path) and os.readlink(path) == wanted:
                continue
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.lexists(path) and not os.path.islink(path) and not os.path.lexists(path + ".mailadmin-orig"):
                os.rename(path, path + ".mailadmin-orig")
            temporary = path + ".mailadmin-new"
            if os.path.lexists(temporary):
                os.unlink(temporary)
            os.symlink(wanted, temporary)
            os.rename(temporary, path)
            fsync_dir(os.path.dirname(path))
        self.ensure_pam()

    def ensure_pam(self) -> None:
        """/etc/pam.d/smtpd from the fixed template, naming files in "current" (so it never
        changes with a generation); a file found there first is kept as smtpd.mailadmin-orig."""
        files = ["passwords", *(f"app-passwords-{n}" for n in range(1, APP_PASSWORD_SLOTS + 1))]
        lines = "\n".join(
            f"auth sufficient pam_pwdfile.so nodelay pwdfile={self.current}/dovecot/{name}" for name in files
        )
        wanted = PAM_SMTPD.format(lines=lines).encode()
        path = os.path.join(self.root, "etc/pam.d/smtpd")
        try:
            with open(path, "rb") as f:
                if f.read() == wanted:
                    return
            if not os.path.lexists(path + ".mailadmin-orig"):
                with open(path, "rb") as f:
                    if not f.read().startswith(b"# Installed by mailadmin"):
                        os.rename(path, path + ".mailadmin-orig")
        except FileNotFoundError:
            pass
        temporary = path + ".mailadmin-new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        write_public(self.root, "etc/pam.d/smtpd.mailadmin-new", wanted)
        os.rename(temporary, path)
        fsync_dir(os.path.dirname(path))

    def reload_plan(self, old: str | None, new: str) -> tuple[list[str], set[str], list[list[str]]]:
        """What changed (for the answer), the paths touched (for checks), and the reloads it needs."""
        new_files = manifest_of(new)
        before, after = (self.recorded_digests(old) if old else {}), self.recorded_digests(new)
        if not (before and after):  # a generation from before digests were recorded: read both
            before = {rel: digest(old, rel) for rel in new_files} if old else {}
            after = {rel: digest(new, rel) for rel in new_files}
        changed = sorted(rel for rel in new_files if old is None or before.get(rel) != after.get(rel))
        removed = [] if old is None else sorted(set(manifest_of(old)) - set(new_files))
        touched = set(changed + removed)
        commands: list[list[str]] = []
        if any(rel.startswith("dovecot/") for rel in touched):  # the users file, the passwords, the conf
            commands.append(self.command("dovecot"))
        if touched & {"smtpd/smtpd.conf", "smtpd/filter-rspamd", "smtpd/mailname"}:
            commands.append(self.command("smtpd_restart"))
        else:
            commands += [self.command("smtpd_table", table=t) for t in TABLES if f"smtpd/{t}" in touched]
        if any(rel.startswith("rspamd/") for rel in touched):
            commands.append(self.command("rspamd"))
        return changed + [f"{rel} (removed)" for rel in removed], touched, [c for c in commands if c]

    def command(self, name: str, **values: str) -> list[str]:
        return [arg.format(**values) for arg in self.reload_commands.get(name, [])]

    def reload(self, commands: list[list[str]]) -> list[str]:
        done = []
        for argv in commands:
            run_checked(argv)
            done.append(" ".join(argv))
        return done

    def remove_generation(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + ".digests")

    def prune(self) -> None:
        keep = {os.path.realpath(self.current)}
        numbers = sorted((int(n) for n in os.listdir(self.generations) if n.isdigit()), reverse=True)
        for number in numbers[self.keep :]:
            path = os.path.join(self.generations, str(number))
            if os.path.realpath(path) not in keep:
                self.remove_generation(path)

    def apply(self, generation: int, replace_hand_built: bool = False) -> dict:
        # One apply at a time, even with two helpers started on the same root by mistake; flock
        # also serializes this process's own threads, each holding its own open file description.
        with open(os.path.join(self.base, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self.apply_locked(generation, replace_hand_built)

    def reload_locked(self, commands: list[list[str]]) -> list[str]:
        """A reload asked for on its own waits for an apply under way, which may be switching back."""
        with open(os.path.join(self.base, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self.reload(commands)

    def hand_built(self) -> list[str]:
        """The mail tables of a host built by hand (the guide's /etc/smtpd tables and
        /etc/dovecot/users) where the first generation would link its own. Debian's packages
        install none of them, only smtpd.conf and dovecot.conf, which say nothing either way."""
        found = []
        ours = os.path.realpath(self.base) + os.sep
        for rel in LINKS:
            path = os.path.join(self.root, rel)
            if not rel.startswith(("etc/smtpd/", "etc/dovecot/users")) or os.path.realpath(path).startswith(ours):
                continue  # a file Debian may install, or one of the panel's links
            with contextlib.suppress(OSError):
                if os.path.isfile(path) and os.path.getsize(path) > 0:  # a link to a file counts too
                    found.append("/" + rel)
        return found

    def apply_locked(self, generation: int, replace_hand_built: bool = False) -> dict:
        started = time.monotonic()
        old = self.current_generation()
        if old is None and not replace_hand_built and (found := self.hand_built()):
            raise HandBuilt(found)
        new = self.install(generation)
        changed, touched, commands = self.reload_plan(old, new)
        try:
            self.run_checks(new, touched)
        except BaseException:
            self.remove_generation(new)
            raise
        self.switch(new)
        self.ensure_links()
        try:
            reloaded = self.reload(commands)
        except Refused as e:
            if old is None:
                raise
            self.switch(old)
            try:
                self.reload(commands)
            except Refused as again:
                raise Refused(f"{e}; the previous generation is back, but reloading it failed too: {again}") from None
            self.remove_generation(new)
            raise Refused(f"{e}; the previous generation is live again") from None
        self.prune()
        return {
            "ok": True,
            "generation": generation,
            "installed_as": os.path.basename(new),
            "changed": changed,
            "reloaded": reloaded,
            "seconds": round(time.monotonic() - started, 3),
        }

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "apply":
            generation = request.get("generation")
            if not isinstance(generation, int) or isinstance(generation, bool) or not 0 < generation < 2**53:
                raise Refused("generation must be a positive whole number")
            return self.apply(generation, request.get("replace_hand_built") is True)
        if op == "reload":
            service = request.get("service")
            names = {"dovecot": "dovecot", "smtpd": "smtpd_restart", "rspamd": "rspamd"}
            if service not in names:
                raise Refused("service must be dovecot, smtpd or rspamd")
            return {"ok": True, "reloaded": self.reload_locked([self.command(names[service])])}
        if op == "measure_usage":
            user = request.get("user")
            if user is not None and not (isinstance(user, str) and USER.fullmatch(user)):
                raise Refused("user must be a mail address in its stored form")
            return self.measure_usage(user)
        if op == "queue":
            return {"ok": True, "envelopes": self.queue()}
        raise Refused("unknown request")

    # --- reading what only root may read ------------------------------------------------

    def measure_usage(self, user: str | None) -> dict:
        """Seed the usage files Dovecot writes only when a mailbox changes (quota_clone): ask
        doveadm for each user's usage and write the files that do not exist yet, as the mail user,
        so a mailbox nobody has written to since the panel began is "measured", not "unknown"."""
        result = run_checked(self.query("quota_user", user=user) if user else self.query("quota_all"))
        usage: dict[str, dict[str, int]] = {}
        for line in result.stdout.splitlines():
            fields = line.split("\t")
            if user:
                fields = [user, *fields]
            # doveadm -f tab quota get: [user,] quota name, type, value, limit, %
            if len(fields) >= 4 and USER.fullmatch(fields[0]) and fields[3].isdigit():
                key = {"STORAGE": "storage", "MESSAGE": "messages"}.get(fields[2])
                if key:
                    # doveadm prints storage in KiB; quota_clone writes bytes.
                    usage.setdefault(fields[0], {})[key] = int(fields[3]) * (1024 if key == "storage" else 1)
        files = {}
        for address, values in usage.items():
            local, domain = address.rsplit("@", 1)
            text = "".join(f"priv/quota/{key}\n{value}\n" for key, value in sorted(values.items()))
            files[f"{domain}/{local}.quota"] = text
        written = self.write_usage_files(files) if files else 0
        return {"ok": True, "measured": len(files), "written": written}

    def write_usage_files(self, files: dict[str, str]) -> int:
        """Write as the mail user, who owns the usage directory (root writing into a directory
        another user controls could be led by a symlink); never replace what Dovecot wrote."""
        directory, owner = self.usage.get("dir"), self.usage.get("user")
        if not directory:
            raise Refused("the helper has no usage directory configured")
        kwargs = {}
        if self.privileged and owner:
            entry = pwd.getpwnam(owner)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [self.usage.get("python", sys.executable), "-I", "-c", USAGE_WRITER, directory],
            input=json.dumps(files),
            capture_output=True,
            text=True,
            timeout=600,
            **kwargs,
        )
        if result.returncode != 0:
            raise Refused(f"writing usage files failed: {result.stderr.strip()[-300:]}")
        return int(result.stdout or 0)

    def queue(self) -> list[dict]:
        """OpenSMTPD's queue (smtpctl show queue), at most MAX_ENVELOPES envelopes."""
        result = run_checked(self.query("queue"))
        envelopes = []
        for line in result.stdout.splitlines()[:MAX_ENVELOPES]:
            # id|source|agent|flags|sender|recipient|destination|created|expires|last try|retries|state|value|error
            fields = line.split("|", 13)
            if len(fields) < 14:
                continue
            envelopes.append(
                {
                    "id": fields[0],
                    "agent": fields[2],
                    "sender": fields[4],
                    "recipient": fields[5],
                    "destination": fields[6],
                    "created": int(fields[7]) if fields[7].isdigit() else 0,
                    "expires": int(fields[8]) if fields[8].isdigit() else 0,
                    "retries": int(fields[10]) if fields[10].isdigit() else 0,
                    "error": fields[13][:500],
                }
            )
        return envelopes

    def query(self, name: str, **values: str) -> list[str]:
        argv = [arg.format(**values) for arg in self.queries.get(name, [])]
        if not argv:
            raise Refused(f"the helper has no {name} command configured")
        return argv


def run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(argv, 127, "", str(e))


def run_checked(argv: list[str]) -> subprocess.CompletedProcess:
    """run(), refusing the request with the command's last words when it fails."""
    result = run(argv)
    if result.returncode != 0:
        raise Refused(f"{' '.join(argv)} failed: {(result.stdout + result.stderr).strip()[-300:]}")
    return result


def manifest_of(directory: str) -> list[str]:
    found = []
    for root, _, names in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, n), directory) for n in names if n != "GENERATION"]
    return found


def digest(directory: str, rel: str) -> str | None:
    try:
        with open(os.path.join(directory, rel), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def peer_uid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def nesting_depth(line: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def read_request(connection: socket.socket, seconds: float) -> bytes:
    """One line of at most MAX_REQUEST bytes (longer: MAX_REQUEST + 1 bytes), within `seconds` in all,
    so a client that sends slowly or nothing at all holds only its own connection, and not for long."""
    deadline = time.monotonic() + seconds
    data = b""
    while b"\n" not in data and len(data) <= MAX_REQUEST:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection.settimeout(remaining)
        chunk = connection.recv(MAX_REQUEST + 1 - len(data))
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0] + b"\n" if b"\n" in data else data


def answer(helper: Helper, line: bytes) -> dict:
    try:
        if len(line) > MAX_REQUEST:
            raise Refused("request too long")
        # Requests are flat objects; json.loads would recurse into deep nesting and raise RecursionError.
        if nesting_depth(line) > MAX_DEPTH:
            raise Refused("request must be a flat JSON object: nested too deep")
        request = json.loads(line)
        if not isinstance(request, dict):
            raise Refused("request must be a JSON object")
        return helper.handle(request)
    except HandBuilt as e:
        return {"ok": False, "error": str(e), "hand_built": e.found}
    except (ValueError, Refused) as e:
        return {"ok": False, "error": str(e)}
    except OSError as e:
        return {"ok": False, "error": f"{e.strerror}: {e.filename}"}
    except Exception as e:  # a bug: answer anyway, and leave the traceback in the log
        traceback.print_exc()
        return {"ok": False, "error": f"internal error in the helper ({type(e).__name__})"}


def serve(config: dict) -> None:
    helper = Helper(config)
    allowed = {0, os.getuid(), *config.get("allowed_uids", [])}
    path = config["socket"]
    read_timeout = float(config.get("read_timeout", READ_TIMEOUT))

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            if peer_uid(self.request) not in allowed:
                self.reply({"ok": False, "error": "not allowed"})
                return
            try:
                line = read_request(self.request, read_timeout)
            except TimeoutError:
                self.reply({"ok": False, "error": f"no request within {read_timeout:g} s"})
                return
            self.reply(answer(helper, line))

        def reply(self, response: dict) -> None:
            self.request.settimeout(read_timeout)  # a client that never reads cannot hold this thread
            try:
                self.request.sendall(json.dumps(response).encode() + b"\n")
            except OSError:
                pass  # the client left; an apply it asked for has still been carried out

    # One thread per connection, so a slow client never delays another's answer; applies and
    # reloads still run one at a time (Helper.apply and Helper.reload_locked take the lock).
    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True  # a stop (SIGTERM) does not wait for an apply: it is safe to cut short
        block_on_close = False
        request_queue_size = 64  # the panel's client sets its timeout first, so it gets EAGAIN, not a wait

    if os.path.lexists(path):
        os.unlink(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old_umask = os.umask(0o117)
    server = Server(path, Handler)
    os.umask(old_umask)
    if group := config.get("socket_group"):
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"mailadmin helper: listening on {path}, root {helper.root}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    with open(args.config) as f:
        serve(json.load(f))


if __name__ == "__main__":
    main()
