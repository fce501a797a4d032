"""Reading a host built by hand from the guide (../shared/GUIDE_SPEC.md) into what the panel would hold.

`read_host(source, paths)` starts from the three files the daemons themselves start from
(smtpd.conf, dovecot.conf, Rspamd's dkim_signing.conf) and follows what they name: the tables
smtpd.conf declares, by the role it gives each (`for domain <…>`, `virtual <…>`, `userbase
<…>`, `rcpt-to <…>`, `auth <…>`, `senders <…>`), the passwd-file(s) of Dovecot's passdb and
userdb, and the key files of each signing domain. It writes nothing and asks no daemon.

What comes out (`Reading`):
- rows in the CSV import's format (transfer.csvformat.Row), one per domain, mailbox and alias,
  each with the file and line it came from, so transfer.plan judges them with the words and rules
  of every other import (and the actions after it);
- for each row, the reasons it cannot be adopted beyond those (`row_errors`), and where a
  mailbox's mail is if not where the panel would look (`homes`);
- the DKIM keys that sign today (adopt.dkimkeys);
- findings about the host as a whole: `error` (nothing can be adopted until it is fixed),
  `change` (adopted, but the host will then behave differently, said how) and `note`.

The rule it applies throughout: after adopting and applying, every login, delivery and signature
that worked keeps working the same way. Whatever the panel cannot do the same way is a `change`
when it only widens or narrows who gets what (said precisely), an error when mail or a login
would be lost.
"""

import re
from collections import defaultdict

from django.core.exceptions import ValidationError

from adopt import dkimkeys
from adopt.dovecot import Dovecot, User
from adopt.findings import CHANGE, ERROR, NOTE, FileRead, Paths, Reading, Stop, is_domain
from adopt.parsers import Entry, Where
from adopt.smtpd import Smtpd
from adopt.sources import Source
from core.addresses import normalize_address, normalize_domain
from core.aliasgraph import MAILBOX, walk
from core.mailhost import host_config
from core.quota import format_quota
from transfer import passwords


def read_host(source: Source, paths: Paths | None = None) -> Reading:
    paths = paths or Paths()
    reading = Reading(source.name)
    try:
        smtpd = Smtpd.read(source, paths.smtpd_conf, reading)
        dovecot = Dovecot.read(source, paths.dovecot_conf, reading)
    except Stop:
        return reading
    domains = smtpd.domains()
    for domain, where in domains.items():
        reading.row(where, type="domain", address=domain, active="yes")
    users = dovecot.users()
    mailbox_rows = _mailboxes(reading, users, smtpd, dovecot)
    _aliases(reading, smtpd, domains, users, mailbox_rows)
    _senders(reading, smtpd, users)
    signing = dkimkeys.read_signing(source, paths.dkim_signing, [d for d in domains if is_domain(d)])
    _signing(reading, signing, paths.dkim_signing)
    return reading


# --- mailboxes, aliases, senders --------------------------------------------------------------------


_SIZE = re.compile(r"(\d+)([bkmgt]?)", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _quota(rule: str) -> tuple[int | None, str]:
    """A Dovecot quota rule `*:storage=2G` as MiB (0: unlimited), or None and why not. Without a
    unit, storage= counts kilobytes and bytes= bytes (measured with doveadm quota get)."""
    if not rule:
        return 0, ""
    match = re.fullmatch(r"\*:(bytes|storage)=(\S+)", rule)
    if not match:
        return None, f"its quota rule “{rule}” is not one storage limit (*:storage=SIZE), the only kind the panel keeps"
    size = _SIZE.fullmatch(match.group(2))
    if not size:
        return None, f"its quota “{match.group(2)}” is not a size such as 2G or 500M"
    unit = size.group(2).lower() or ("k" if match.group(1) == "storage" else "b")
    bytes_ = int(size.group(1)) * _UNITS[unit]
    if bytes_ % 1024**2:
        return None, f"its quota {match.group(2)} is not a whole number of megabytes, which the panel stores"
    return bytes_ // 1024**2, ""


def _mailboxes(reading: Reading, users: list[User], smtpd: Smtpd, dovecot: Dovecot) -> dict[str, int]:
    vmail = host_config().vmail_home.rstrip("/")
    credentials = smtpd.credentials.mapping() if smtpd.credentials else {}
    rows: dict[str, int] = {}
    for user in users:
        line = user.line
        hashed, errors, changes = _password(user, credentials.pop(line.user.lower(), None), dovecot.passdb_scheme)
        quota_mb, why = _quota(line.extra.get("userdb_quota_rule") or dovecot.default_quota)
        if why:
            errors.append(why)
        for key in sorted(set(line.extra) - {"userdb_quota_rule", "userdb_home"}):
            if re.fullmatch(r"userdb_quota_rule\d+", key):
                changes.append(
                    f"its extra quota rule {line.extra[key]} is not kept (the panel keeps one storage limit)"
                )
            elif key in ("userdb_mail", "userdb_uid", "userdb_gid"):
                errors.append(f"its extra field {key} keeps its mail apart from the others, which the panel cannot")
            else:
                changes.append(f"its extra field {key} is not kept")
        number = reading.row(
            line.where,
            type="mailbox",
            address=line.user,
            name=line.gecos.strip() or None,
            quota=format_quota(quota_mb) if quota_mb is not None else None,
            password=hashed,
        )
        user.row = number
        reading.row_errors[number] += errors
        if not hashed:
            reading.no_password.add(number)
        if user.address:
            rows[user.address] = number
        shown = user.address or line.user
        for change in changes:
            reading.add(CHANGE, line.where, shown, change)
        if not user.live:
            reading.add(
                CHANGE,
                line.where,
                line.user,
                f"never signed in nor received mail here: Dovecot looks names up in lower case and this line has "
                f"capitals; as {user.address or line.user.lower()} it will",
            )
            continue
        if user.address and line.user != user.address:
            imap = "IMAP takes that spelling still (and any other), " if line.user.lower() == user.address else ""
            reading.add(
                CHANGE,
                line.where,
                user.address,
                f"signs in as {line.user}: {imap or 'IMAP and '}SMTP take{'s' if imap else ''} only {user.address}",
            )
        local, _, domain = user.address.rpartition("@")
        panel_home = f"{vmail}/{domain}/{local}"
        if not user.address or not user.home or user.home == panel_home:
            continue
        if (
            user.home.startswith(vmail + "/")
            and re.fullmatch(r"/[A-Za-z0-9._/+-]+", user.home)
            and ".." not in user.home.split("/")
        ):
            reading.homes[user.address] = user.home
            reading.add(
                NOTE,
                line.where,
                user.address,
                f"its mail stays where it is, in {user.home} (the panel would look in {panel_home})",
            )
        else:
            reading.row_errors[number].append(
                f"its mail is in {user.home}, which the panel cannot name (outside {vmail}, or characters a path there cannot have)"
            )
    for entry in credentials.values():
        reading.add(
            ERROR,
            entry.where,
            entry.key,
            "signs in to OpenSMTPD but has no Dovecot user: the panel has no send-only logins (add it to Dovecot's users "
            "as a mailbox, or remove it from the credentials table)",
        )
    return rows


def _password(user: User, smtpd: Entry | None, scheme: str) -> tuple[str, list[str], list[str]]:
    """The hash to keep, this line's errors and what changes: one hash both daemons verify."""
    line = user.password or user.line
    stored = line.password
    if stored and not stored.startswith("{") and scheme != "CRYPT":
        stored = f"{{{scheme}}}{stored}"
    dovecot = passwords.classify(stored) if stored else passwords.Password("")
    value = smtpd.value.split()[0] if smtpd else ""
    # OpenSMTPD hands the string to crypt(3) as it is: a {SCHEME} prefix never verifies (measured).
    theirs = (
        passwords.classify(value)
        if value and not value.startswith("{")
        else passwords.Password("hash" if value else "", error=value[:1])
    )
    usable_dovecot = dovecot.kind == "hash" and not dovecot.error
    usable_smtpd = theirs.kind == "hash" and not theirs.error
    if usable_dovecot and smtpd is None:
        return (
            dovecot.hash,
            [],
            ["could not send mail through OpenSMTPD here (no credentials line); it will, with the same password"],
        )
    if usable_dovecot and usable_smtpd and dovecot.hash != theirs.hash:
        return (
            "",
            [
                "Dovecot and OpenSMTPD hold different hashes for it, and the panel keeps one password per mailbox: make the "
                "two lines the same (or remove one) and check again"
            ],
            [],
        )
    if usable_dovecot:
        return (
            dovecot.hash,
            [],
            []
            if usable_smtpd
            else ["OpenSMTPD could not verify its credentials line; SMTP now takes its IMAP password"],
        )
    if usable_smtpd:
        return (
            theirs.hash,
            [],
            [
                "Dovecot's hash is one OpenSMTPD cannot verify, so the one from OpenSMTPD's credentials is kept: "
                "IMAP now takes its SMTP password"
            ],
        )
    if not stored:
        return "", ["its password field is empty, and OpenSMTPD has no hash for it either"], []
    reason = dovecot.error.split(". Give the password")[0] if dovecot.error else "its password is not a crypt(3) hash"
    return (
        "",
        [
            f"{_sentence(reason.removeprefix('the password is '))}, and OpenSMTPD has no hash both verify: give the "
            "user a new password on this host (doveadm pw -s SHA512-CRYPT) and check again"
        ],
        [],
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _targets(entry: Entry, smtpd: Smtpd) -> tuple[list[str], bool, list[str]]:
    """A virtual entry's value: (addresses, delivers to Dovecot itself, what cannot be adopted)."""
    addresses, dovecot, errors = [], False, []
    for target in (t.strip() for t in entry.value.split(",")):
        if not target:
            continue
        if target.lower() in smtpd.userbase_users:
            dovecot = True
        elif target.startswith(("|", "/", ":include:")) or target.split(":")[0] in ("maildir", "mbox", "lmtp", "mda"):
            errors.append(f"delivers to “{target}”, which is not an address")
        elif "@" not in target:
            errors.append(f"delivers to the system user “{target}”, which the panel does not manage")
        else:
            addresses.append(target)
    return addresses, dovecot, errors


def _aliases(
    reading: Reading, smtpd: Smtpd, domains: dict[str, Where], users: list[User], mailboxes: dict[str, int]
) -> None:
    virtual = smtpd.virtual()
    ours = {d for d in domains if is_domain(d)}
    live_users = {u.address for u in users if u.address and u.live}
    entries: dict[str, Entry] = {}  # key as the panel stores it -> entry
    for key, entry in virtual.items():
        local, at, domain = key.rpartition("@")
        if not at:  # a bare local part, for every domain of the table
            for name in sorted(ours):
                if f"{key}@{name}" not in virtual:
                    entries.setdefault(f"{key}@{name}", entry)
            continue
        if not local and not domain:  # "@": the catch-all of every domain
            for name in sorted(ours):
                if f"@{name}" not in virtual:
                    entries.setdefault(f"@{name}", entry)
            continue
        try:
            domain = normalize_domain(domain)
        except ValidationError:
            pass
        if domain not in ours:
            reading.add(NOTE, entry.where, entry.key, f"is ignored: {domain} is not a domain received here")
            continue
        entries[f"{local}@{domain}" if local else f"@{domain}"] = entry
    catch_alls = {}
    for key, entry in entries.items():
        addresses, to_dovecot, errors = _targets(entry, smtpd)
        local, _, domain = key.rpartition("@")
        if "+" in local:
            errors.append("a key with a +tag: the panel's addresses have none (name+tag@domain reaches name@domain)")
        address = key if local else ""
        if address and address in mailboxes:
            if addresses:
                reading.row_errors[mailboxes[address]].append(
                    f"delivers to its own mailbox and to {', '.join(addresses)} ({entry.where}): after adopting, set "
                    "that up as forwarding with a copy, and remove it from the virtual table"
                )
            if errors:
                reading.row_errors[mailboxes[address]] += errors
            continue
        if to_dovecot and not addresses:
            if local:
                reading.add(
                    CHANGE,
                    entry.where,
                    key,
                    "goes to Dovecot, which has no such user: mail to it bounced after being accepted; it is now refused",
                )
            else:
                catch_alls[domain] = None
                reading.add(
                    CHANGE,
                    entry.where,
                    f"*@{domain}",
                    "every address went to Dovecot, which bounced mail for users it does not have after accepting it; "
                    "now mail to an address that is neither a mailbox nor an alias is refused at once",
                )
            continue
        if to_dovecot:
            errors.append("delivers to Dovecot as itself and to other addresses: the panel has no such address")
        number = reading.row(
            entry.where,
            type="alias",
            address=key if local else f"*@{domain}",
            destinations=" ".join(addresses),
            active="yes",
        )
        reading.row_errors[number] += errors
        if not local:
            catch_alls[domain] = addresses
    for user in users:
        if not user.live or not user.address or user.address in entries:
            continue
        domain = user.address.rpartition("@")[2]
        if domain not in ours:
            reading.row_errors[user.row].append(f"{domain} is not a domain OpenSMTPD receives mail for here")
        elif catch_alls.get(domain, "") is None:
            continue  # the catch-all handed it to Dovecot: delivered as before
        elif domain in catch_alls:
            reading.add(
                CHANGE,
                user.line.where,
                user.address,
                f"mail to it went to the catch-all ({', '.join(catch_alls[domain])}); it will go to its own mailbox",
            )
        else:
            reading.add(
                CHANGE,
                user.line.where,
                user.address,
                "received no mail here (OpenSMTPD's virtual table has no entry for it); it will",
            )
    if smtpd.recipients is not None:
        allowed = {entry.key.lower() for entry in smtpd.recipients.entries}
        for address in sorted(set(entries) | live_users):
            if not address.startswith("@") and address not in allowed:
                reading.add(
                    CHANGE,
                    "recipients table",
                    address,
                    "was refused here (not in the recipients table); it will receive mail",
                )


def _senders(reading: Reading, smtpd: Smtpd, users: list[User]) -> None:
    if smtpd.senders is None:
        return
    table: dict[str, tuple[str, ...]] = {u.address: MAILBOX for u in users if u.address}
    for row in reading.rows:
        if row.cells["type"] == "alias" and not row.cells["address"].startswith("*@"):
            try:
                key = normalize_address(row.cells["address"], allow_plus=False)
                table[key] = tuple(normalize_address(d) for d in row.cells["destinations"].split())
            except ValidationError:
                continue
    graph = walk(table)
    panel: dict[str, set[str]] = defaultdict(set)
    for key, destinations in table.items():
        if destinations:
            for mailbox in graph.mailboxes.get(key, ()):
                panel[mailbox].add(key)
    senders = smtpd.senders.mapping()
    for user in users:
        if not user.address or not user.live:
            continue
        entry = senders.get(user.line.user.lower())
        before = {a.strip().lower() for a in entry.value.split(",") if a.strip()} if entry else set()
        after = {user.address} | panel[user.address]
        where = entry.where if entry else user.line.where
        if lost := sorted(before - after):
            reading.add(
                CHANGE,
                where,
                user.address,
                f"may no longer send as {', '.join(lost)} (the panel lets a mailbox send as its own address and the "
                "aliases that deliver to it: add such an alias if it should)",
            )
        if gained := sorted(after - before):
            reading.add(CHANGE, where, user.address, f"may now send as {', '.join(gained)} (they deliver to it)")


def _signing(reading: Reading, signing: dkimkeys.Signing, path: str) -> None:
    for problem in signing.problems:
        reading.add(ERROR, problem.where, "DKIM", problem.message)
    for problem in signing.changes:
        reading.add(CHANGE, problem.where, "DKIM", problem.message)
    for problem in signing.notes:
        reading.add(NOTE, problem.where, "DKIM", problem.message)
    if signing.keys or signing.problems:
        reading.files.append(FileRead(path, "Rspamd's DKIM signing", len(signing.keys)))
    reading.keys = signing.keys
    for key in signing.keys:
        name = f"{key.selector}._domainkey.{key.domain}"
        if key.unused_today:
            reading.add(
                CHANGE,
                key.where,
                name,
                "is an Ed25519 key in PEM, which Rspamd cannot read: mail left without this signature; it will carry it "
                "(publish its record before adopting)",
            )
        if key.short:
            reading.add(
                NOTE,
                key.where,
                name,
                f"is a {key.bits}-bit RSA key: adopted as it signs today; rotate to 2048 bits on the domain's DNS page",
            )
