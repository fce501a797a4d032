"""Dovecot's side of a hand-built host: which passwd-file holds its users, and where each one's mail is.

Names are looked up the way Dovecot does: auth_username_format (default %Lu, lower case) and the
passwd-file's username_format, compared exactly with the file's lines (measured: a line with
capitals is never found under %Lu). A user's home is the userdb's override_fields home, else
the line's own home column (or userdb_home), else default_fields, else mail_home, with %u, %n,
%d (and their %L forms) replaced by the name Dovecot looked up.
"""

import grp
import pwd
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from adopt.findings import CHANGE, ERROR, NOTE, FileRead, Reading, Stop, read_file
from adopt.parsers import PasswdLine, Section, Where, dovecot_config, passwd_file
from adopt.sources import Source
from core.addresses import normalize_address
from core.mailhost import host_config

# --- Dovecot ------------------------------------------------------------------------------------


@dataclass
class User:
    line: PasswdLine
    address: str  # normalised local@a-label, "" if it cannot be
    home: str = ""  # where Dovecot keeps its mail
    live: bool = True  # Dovecot finds this line when the user signs in or mail arrives
    password: PasswdLine | None = None  # the passdb's line, when the passdb is another file
    hash: str = ""
    quota_mb: int | None = None
    row: int = 0


_VARIABLES = {
    "%u": lambda user: user,
    "%n": lambda user: user.rpartition("@")[0],
    "%d": lambda user: user.rpartition("@")[2],
    "%Lu": lambda user: user.lower(),
    "%Ln": lambda user: user.rpartition("@")[0].lower(),
    "%Ld": lambda user: user.rpartition("@")[2].lower(),
    "%{user}": lambda user: user,
    "%{username}": lambda user: user.rpartition("@")[0],
    "%{domain}": lambda user: user.rpartition("@")[2],
}
_VARIABLE = re.compile(r"%(?:L?[und]|\{(?:user|username|domain)\}|%)")


def _expand(template: str, user: str) -> str | None:
    """A Dovecot path template for this user name, None if it uses another variable."""
    if re.sub(_VARIABLE, "", template).count("%"):
        return None
    return _VARIABLE.sub(lambda m: "%" if m.group() == "%%" else _VARIABLES[m.group()](user), template)


def _fields(text: str) -> dict[str, str]:
    return dict(word.partition("=")[::2] for word in text.split())


class Dovecot:
    def __init__(self, reading: Reading, config: Section) -> None:
        self.reading, self.config = reading, config
        self.lowercase_lookups = True
        self.home_template = ""
        self.home_where: Where | str = ""
        self.home_forced = False
        self.passdb_scheme = "CRYPT"
        self.lines: list[PasswdLine] = []
        self.passwords: dict[str, PasswdLine] = {}
        self.default_quota = ""

    @classmethod
    def read(cls, source: Source, path: str, reading: Reading) -> "Dovecot":
        read_file(source, path, "Dovecot's configuration", reading)
        config, problems = dovecot_config(source, path)
        reading.files.append(FileRead(path, "Dovecot's configuration", len(config.children) + len(config.settings)))
        for problem in problems:
            reading.add(ERROR, problem.where, "dovecot.conf", problem.message)
        dovecot = cls(reading, config)
        dovecot._auth(source)
        return dovecot

    def _auth(self, source: Source) -> None:
        config, reading = self.config, self.reading
        auth_format = config.get("auth_username_format", "%Lu")
        passdbs = [s for s in config.sections("passdb") if (s.get("driver") or s.argument) == "passwd-file"]
        userdbs = [s for s in config.sections("userdb") if (s.get("driver") or s.argument) in ("passwd-file", "static")]
        for section in config.sections("passdb") + config.sections("userdb"):
            driver = section.get("driver") or section.argument
            if driver not in ("passwd-file", "static"):
                reading.add(
                    CHANGE,
                    section.where,
                    f"{section.name} {driver}",
                    "is not adopted: only the passwd-file's users sign in and receive mail after adopting",
                )
        if len(passdbs) != 1 or len(userdbs) != 1:
            reading.add(
                ERROR,
                config.where,
                "Dovecot's users",
                f"adopt reads one passwd-file passdb and one passwd-file or static userdb; this host has "
                f"{len(passdbs)} and {len(userdbs)}",
            )
            raise Stop
        passdb, userdb = passdbs[0], userdbs[0]
        passdb_args, userdb_args = _args(passdb.get("args")), _args(userdb.get("args"))
        self.passdb_scheme = passdb_args.get("scheme", "CRYPT").upper()
        formats = {auth_format, passdb_args.get("username_format", "%u")}
        if userdb.get("driver", userdb.argument) == "passwd-file":
            formats.add(userdb_args.get("username_format", "%u"))
        if not formats <= {"%u", "%Lu", "%{user}"}:
            reading.add(
                ERROR,
                passdb.where,
                "Dovecot's users",
                f"user names are looked up as {', '.join(sorted(formats))}: adopt reads full addresses (%u or %Lu)",
            )
            raise Stop
        self.lowercase_lookups = "%Lu" in formats
        self.mail_location(userdb)
        self.homes(userdb, _fields(userdb.get("override_fields")), _fields(userdb.get("default_fields")), userdb_args)
        self.owner(userdb, _fields(userdb.get("override_fields")), userdb_args, source.live)
        passwd_path = passdb_args.get("path", "")
        data = read_file(source, passwd_path, "Dovecot's passwd-file", reading, where=passdb.where)
        lines, _ = passwd_file(data, passwd_path)
        self.passwords = {line.user: line for line in lines}
        reading.files.append(FileRead(passwd_path, "Dovecot's users (passdb)", len(lines)))
        if userdb.get("driver", userdb.argument) == "passwd-file" and userdb_args.get("path") != passwd_path:
            userdb_path = userdb_args.get("path", "")
            data = read_file(source, userdb_path, "Dovecot's userdb", reading, where=userdb.where)
            lines, _ = passwd_file(data, userdb_path)
            reading.files.append(FileRead(userdb_path, "Dovecot's users (userdb)", len(lines)))
        self.lines = lines
        plugin = config.sections("plugin")
        self.default_quota = plugin[-1].get("quota_rule") if plugin else ""
        if plugin and plugin[-1].get("sieve"):
            reading.add(
                CHANGE,
                plugin[-1].settings["sieve"][1],
                "Sieve",
                "users' own Sieve scripts are not adopted: the panel runs only the automatic replies and "
                "forwarding its users set on their page",
            )

    def mail_location(self, userdb: Section) -> None:
        location = _fields(userdb.get("override_fields")).get("mail") or self.config.get("mail_location")
        if location.rstrip("/") != "maildir:~/Maildir":
            self.reading.add(
                ERROR,
                userdb.where,
                "mail location",
                f"mail is kept as “{location or 'Dovecot finds it'}”; the panel keeps it as maildir:~/Maildir",
            )

    def homes(self, userdb: Section, override: dict, default: dict, args: dict) -> None:
        if userdb.get("driver", userdb.argument) == "static":
            override = {**override, **args}  # a static userdb's args are every user's fields
        self.home_forced = "home" in override
        self.home_template = override.get("home") or default.get("home") or self.config.get("mail_home")
        self.home_where = userdb.where
        vmail = host_config().vmail_home.rstrip("/")
        if not self.home_template:
            self.reading.add(
                ERROR, userdb.where, "mail location", "users have no home directory, which maildir:~/Maildir needs"
            )
        prefix = re.split(r"%", self.home_template, maxsplit=1)[0].rstrip("/") if self.home_template else ""
        if prefix and prefix != vmail and not prefix.startswith(vmail + "/"):
            self.reading.add(
                ERROR,
                userdb.where,
                "mail location",
                f"mail is kept below {prefix}; the panel reads VMAIL_HOME={vmail}: set VMAIL_HOME={prefix} "
                "(README, configuration) and check again",
            )

    def owner(self, userdb: Section, override: dict, args: dict, live: bool) -> None:
        host = host_config()
        fields = {**(args if userdb.get("driver", userdb.argument) == "static" else {}), **override}
        for name, wanted, lookup in [
            ("uid", host.vmail_uid, lambda n: pwd.getpwnam(n).pw_uid),
            ("gid", host.vmail_gid, lambda n: grp.getgrnam(n).gr_gid),
        ]:
            value = fields.get(name, "")
            if not value:
                continue
            try:
                if not (value.isdigit() or live):
                    raise KeyError(value)  # a name on the host the archive came from, not on this one
                number = int(value) if value.isdigit() else lookup(value)
            except KeyError:
                self.reading.add(
                    NOTE,
                    userdb.where,
                    "mail owner",
                    f"{name}={value} cannot be looked up here: check that it is VMAIL_{name.upper()}={wanted}",
                )
                continue
            if number != wanted:
                self.reading.add(
                    ERROR,
                    userdb.where,
                    "mail owner",
                    f"mail belongs to {name} {number} ({value}); the panel writes VMAIL_{name.upper()}={wanted}: "
                    f"set VMAIL_{name.upper()}={number}",
                )

    def users(self) -> list[User]:
        users, seen = [], {}
        for line in self.lines:
            user = User(line, "")
            try:
                user.address = normalize_address(line.user, allow_plus=False)
            except ValidationError:
                pass  # transfer.plan says why, on its line
            # With lower-cased lookups a line written with capitals is never found (measured).
            user.live = not (self.lowercase_lookups and line.user != line.user.lower())
            name = line.user.lower() if self.lowercase_lookups else line.user
            own = line.extra.get("userdb_home") or line.home
            template = own if own and not self.home_forced else self.home_template
            user.home = (_expand(template, name) or "") if template else ""
            user.password = self.passwords.get(line.user)
            if user.address and user.address in seen:
                self.reading.add(
                    ERROR, line.where, line.user, f"is the address of {seen[user.address]} again, in another case"
                )
            seen.setdefault(user.address, f"{line.user} ({line.where})")
            users.append(user)
        return users


def _args(text: str) -> dict[str, str]:
    """A passwd-file's args: `key=value` options, then the path."""
    found = {}
    for word in text.split():
        key, equals, value = word.partition("=")
        if equals and not word.startswith("/"):
            found[key] = value
        else:
            found["path"] = word
    return found
