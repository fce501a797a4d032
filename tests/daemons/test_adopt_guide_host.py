"""A host built by hand from the guide's file layout (../shared/GUIDE_SPEC.md), adopted, serves as before.

The lab's own daemons are stopped and started again on files written here by hand, the way the
guide lays them out: Dovecot's passwd-file as passdb and userdb (full addresses, homes forced to
<vmail>/%d/%n), OpenSMTPD's domains, virtual, credentials and senders tables, Rspamd's
dkim_signing.conf with key files of its own. Only the paths and ports are the lab's, and the
filter-rspamd wrapper is the one REAL_DAEMONS.md measured is needed for DKIM under OpenSMTPD 7.4.

Dovecot here keeps the case of user names (auth_username_format = %u): that is the one setting
under which mail is stored in a path with capitals (measured: with Dovecot's default %Lu a line
written with capitals is never found, so nothing is ever stored under it). Carol's line is
Carol.Jones@Guide-Two.test, so her mail is in <vmail>/Guide-Two.test/Carol.Jones.

The test runs every check (IMAP and SMTP logins, RCPT answers, deliveries through mailboxes,
aliases, a catch-all and a bare key, a DKIM-signed submission verified with dkimpy, quotas,
a refused sender) on the hand-built host, adopts it with `manage.py adopt`, applies through the
helper as a new host's first apply does, and runs them again: every result must be the same,
and the mail stored before, Carol's included, must still be readable over IMAP.
"""

import base64
import ctypes
import ctypes.util
import imaplib
import io
import re
import shutil
import smtplib
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.core.management import call_command

from accounts.models import Mailbox
from domains.models import DkimKey
from tests.daemons.conftest import apply_now
from tests.daemons.lab import HOSTNAME, NOBODY, PORTS
from tests.daemons.mailclient import (
    deliver_inbound,
    dkim_results,
    fetch,
    imap_login,
    message,
    rcpt,
    smtp_auth,
    submit,
    tls_context,
)

pytestmark = pytest.mark.daemon

PASSWORDS = {
    "alice@guide-one.test": "alice's password",
    "bob@guide-one.test": "bob's password",
    "Carol.Jones@Guide-Two.test": "carol's password",
    "dave@guide-two.test": "dave's password",
}
_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def crypt(password: str, prefix: str) -> str:
    """A crypt(3) hash as `doveadm pw` or `smtpctl encrypt` would make it (libxcrypt)."""
    return _libcrypt.crypt(password.encode(), _libcrypt.crypt_gensalt(prefix.encode(), 0, None, 0)).decode()


FILTER = r"""#!/bin/sh
# filter-rspamd 0.1.7 under OpenSMTPD 7.x (REAL_DAEMONS.md, addendum): swap link-auth's fields back.
sed -u -E \
  -e '/^report\|0\.[67]\|[^|]*\|smtp-in\|link-auth\|[^|]*\|[^|]*\|[^|]*\|/d' \
  -e 's/^(report\|0\.7\|[^|]*\|smtp-in\|link-auth\|[^|]*)\|([^|]*)\|([^|]*)$/\1|\3|\2/' \
| exec /usr/libexec/opensmtpd/filter-rspamd "$@"
"""


def write(path, text, owner=("root", "root"), mode=0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()  # the helper's link from an earlier apply: this host is built by hand
    # What the helper kept of an earlier run's files: it keeps the first it finds, these.
    path.with_name(path.name + ".mailadmin-orig").unlink(missing_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    shutil.chown(path, *owner)
    path.chmod(mode)


def rsa_key() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"


def ed25519_key() -> tuple[bytes, str]:
    """As `rspamadm dkim_keygen -t ed25519` writes it: base64 of the seed and the public key."""
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(seed + public) + b"\n", f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"


def build_guide_host(lab, username_format: str = "%u") -> dict[str, bytes]:
    """The guide's files on the lab's paths; returns the DKIM records (name -> TXT) to verify with."""
    root, vmail = lab.root, lab.vmail
    for stored in ["guide-one.test", "guide-two.test", "guide-three.test", "Guide-Two.test"]:
        shutil.rmtree(vmail / stored, ignore_errors=True)  # mail an earlier test of this file left
    hashes = {
        "alice@guide-one.test": crypt(PASSWORDS["alice@guide-one.test"], "$y$"),
        "bob@guide-one.test": crypt(PASSWORDS["bob@guide-one.test"], "$6$"),
        "Carol.Jones@Guide-Two.test": crypt(PASSWORDS["Carol.Jones@Guide-Two.test"], "$2b$"),
        "dave@guide-two.test": crypt(PASSWORDS["dave@guide-two.test"], "$5$"),
    }
    users = [
        f"alice@guide-one.test:{hashes['alice@guide-one.test']}:::Alice Liddell:::userdb_quota_rule=*:storage=1G",
        # Dovecot's scheme prefix in its own file, the bare crypt(3) string in OpenSMTPD's.
        f"bob@guide-one.test:{{SHA512-CRYPT}}{hashes['bob@guide-one.test']}::::::",
        f"Carol.Jones@Guide-Two.test:{hashes['Carol.Jones@Guide-Two.test']}::::::userdb_quota_rule=*:storage=500M",
        f"dave@guide-two.test:{hashes['dave@guide-two.test']}::::::",
    ]
    write(root / "etc/dovecot/users", "\n".join(users) + "\n", ("root", "dovecot"), 0o640)
    write(
        root / "etc/dovecot/dovecot.conf",
        f"""# Built by hand from the guide
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {lab.dir}/dovecot/run
state_dir = {lab.dir}/dovecot/state
log_path = {lab.logs}/dovecot.log
ssl = required
ssl_cert = <{lab.tls}/cert.pem
ssl_key = <{lab.tls}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
auth_username_format = {username_format}
mail_location = maildir:~/Maildir
first_valid_uid = {NOBODY}
mail_plugins = $mail_plugins quota
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {root}/etc/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/etc/dovecot/users
  override_fields = uid=nobody gid=nogroup home={vmail}/%d/%n
}}
plugin {{
  quota = maildir:User quota
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
service imap-login {{
  inet_listener imap {{
    port = {PORTS["imap"]}
  }}
  inet_listener imaps {{
    port = {PORTS["imaps"]}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener {lab.dir}/dovecot/lmtp {{
    mode = 0600
    user = opensmtpd
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""",
    )
    tables = {
        "domains": ["guide-one.test", "guide-two.test", "guide-three.test"],
        "virtuals": [
            "alice@guide-one.test vmail",
            "bob@guide-one.test vmail",
            "Carol.Jones@Guide-Two.test vmail",
            "dave@guide-two.test vmail",
            "info@guide-one.test: alice@guide-one.test, bob@guide-one.test",
            "team@guide-two.test Carol.Jones@Guide-Two.test,dave@guide-two.test",
            "@guide-three.test dave@guide-two.test",
            # No domain: the same local part at every domain of the table.
            "postmaster alice@guide-one.test",
        ],
        "passwds": [f"{user} {hashed}" for user, hashed in hashes.items()],
        "sendas": [
            "alice@guide-one.test alice@guide-one.test, info@guide-one.test, postmaster@guide-one.test",
            "bob@guide-one.test bob@guide-one.test, info@guide-one.test",
            "Carol.Jones@Guide-Two.test Carol.Jones@Guide-Two.test, team@guide-two.test",
            "dave@guide-two.test dave@guide-two.test, team@guide-two.test",
        ],
        "vusers": [f"vmail {NOBODY}:{NOBODY}:{vmail}"],
    }
    for name, lines in tables.items():
        write(root / f"etc/smtpd/{name}", "\n".join(lines) + "\n", ("root", "opensmtpd"), 0o640)
    write(root / "etc/smtpd/mailname", HOSTNAME + "\n")
    write(root / "etc/smtpd/filter-rspamd-proto07", FILTER, mode=0o755)
    auth = 'auth <passwds> senders <sendas> filter "rspamd"'
    write(
        root / "etc/smtpd.conf",
        f"""# Built by hand from the guide
pki {HOSTNAME} cert "{lab.tls}/cert.pem"
pki {HOSTNAME} key "{lab.tls}/key.pem"

table domains file:{root}/etc/smtpd/domains
table virtuals file:{root}/etc/smtpd/virtuals
table passwds file:{root}/etc/smtpd/passwds
table sendas file:{root}/etc/smtpd/sendas
table vusers file:{root}/etc/smtpd/vusers

filter "rspamd" proc-exec "{root}/etc/smtpd/filter-rspamd-proto07 -url http://127.0.0.1:{PORTS["rspamd"]}"

listen on 127.0.0.1 port {PORTS["smtp"]} tls pki {HOSTNAME} hostname {HOSTNAME} filter "rspamd"
listen on 127.0.0.1 port {PORTS["submission"]} tls-require pki {HOSTNAME} hostname {HOSTNAME} {auth}
listen on 127.0.0.1 port {PORTS["smtps"]} smtps pki {HOSTNAME} hostname {HOSTNAME} {auth}

action "RECV" lmtp "{lab.dir}/dovecot/lmtp" rcpt-to virtual <virtuals> userbase <vusers>
action "SEND" relay host smtp://127.0.0.1:{PORTS["relay"]} helo {HOSTNAME}

match from any for domain <domains> action "RECV"
match auth from any for any action "SEND"
""",
        mode=0o600,
    )
    records, blocks = {}, []
    for domain, keys in {
        "guide-one.test": [("2020", rsa_key())],
        "guide-two.test": [("rsa1", rsa_key()), ("ed1", ed25519_key())],
    }.items():
        entries = []
        for selector, (private, record) in keys:
            path = root / f"var/lib/rspamd/dkim/{domain}.{selector}.key"
            write(path, private, ("root", "_rspamd"), 0o640)
            entries.append(f'{{ path = "{path}"; selector = "{selector}"; }}')
            records[f"{selector}._domainkey.{domain}"] = record.encode()
        blocks.append(f"  {domain} {{\n    selectors [\n      " + ",\n      ".join(entries) + "\n    ]\n  }")
    write(
        root / "etc/rspamd/local.d/dkim_signing.conf",
        "# Built by hand from the guide\nsign_authenticated = true;\nsign_local = false;\nuse_esld = false;\nallow_username_mismatch = false;\n"
        "domain {\n" + "\n".join(blocks) + "\n}\n",
    )
    return records


def start_guide_host(lab) -> None:
    for name in ["smtpd", "dovecot"]:
        lab.stop(name)
    # A host that has never had the panel: no generation installed yet.
    (lab.root / "etc/mailadmin/current").unlink(missing_ok=True)
    lab.start("dovecot")
    lab.start("smtpd")
    assert lab.reload("rspamd") == 0


def quota_limit(lab, user: str) -> int | None:
    """The storage limit IMAP reports (GETQUOTAROOT, KiB), None without one."""
    with imaplib.IMAP4_SSL("127.0.0.1", PORTS["imaps"], ssl_context=tls_context(lab), timeout=10) as imap:
        imap.login(user, PASSWORDS[user])
        _, data = imap.getquotaroot("INBOX")
    found = re.search(rb"STORAGE \d+ (\d+)", b" ".join(d for part in data for d in part if isinstance(d, bytes)))
    return int(found.group(1)) if found else None


def delivered(lab, recipient: str, mailboxes: list[str]) -> dict[str, bool]:
    msg = message("someone@elsewhere.example", recipient)
    deliver_inbound(msg)
    return {mailbox: fetch(lab, mailbox, PASSWORDS[mailbox], msg["Subject"]) is not None for mailbox in mailboxes}


def signed(lab, user: str, recipient: str, records: dict[str, bytes]) -> list[tuple[str, bool]]:
    msg = message(user, recipient)
    submit(lab, user, PASSWORDS[user], msg)
    raw = fetch(lab, recipient, PASSWORDS[recipient], msg["Subject"])
    return sorted(dkim_results(raw, records)) if raw else [("not delivered", False)]


def may_send_as(lab, user: str, sender: str) -> bool:
    try:
        submit(lab, user, PASSWORDS[user], message(sender, "alice@guide-one.test"))
    except smtplib.SMTPSenderRefused:
        return False
    return True


def checks(lab, records: dict[str, bytes]) -> dict:
    results = {}
    for user, password in PASSWORDS.items():
        results["imap", user] = imap_login(lab, user, password)
        results["imap wrong password", user] = imap_login(lab, user, password + "x")
        results["smtp", user.lower()] = smtp_auth(lab, user.lower(), password)
        results["smtp wrong password", user.lower()] = smtp_auth(lab, user.lower(), password + "x")
    for recipient in [
        "alice@guide-one.test",
        "info@guide-one.test",
        "Carol.Jones@Guide-Two.test",
        "team@guide-two.test",
    ]:
        results["rcpt", recipient] = rcpt(recipient)[0] // 100
    for recipient in ["anyone@guide-three.test", "postmaster@guide-two.test", "nobody@guide-one.test"]:
        results["rcpt", recipient] = rcpt(recipient)[0] // 100
    results["rcpt", "someone@elsewhere.example"] = rcpt("someone@elsewhere.example")[0] // 100
    results["delivery", "bob"] = delivered(lab, "bob@guide-one.test", ["bob@guide-one.test"])
    results["delivery", "info"] = delivered(lab, "info@guide-one.test", ["alice@guide-one.test", "bob@guide-one.test"])
    results["delivery", "carol"] = delivered(lab, "Carol.Jones@Guide-Two.test", ["Carol.Jones@Guide-Two.test"])
    results["delivery", "team"] = delivered(
        lab, "team@guide-two.test", ["Carol.Jones@Guide-Two.test", "dave@guide-two.test"]
    )
    results["delivery", "catch-all"] = delivered(lab, "whoever@guide-three.test", ["dave@guide-two.test"])
    results["delivery", "postmaster"] = delivered(lab, "postmaster@guide-two.test", ["alice@guide-one.test"])
    results["dkim", "alice"] = signed(lab, "alice@guide-one.test", "bob@guide-one.test", records)
    results["dkim", "dave"] = signed(lab, "dave@guide-two.test", "alice@guide-one.test", records)
    results["send as", "alice as info"] = may_send_as(lab, "alice@guide-one.test", "info@guide-one.test")
    results["send as", "alice as dave"] = may_send_as(lab, "alice@guide-one.test", "dave@guide-two.test")
    results["quota", "alice"] = quota_limit(lab, "alice@guide-one.test")
    results["quota", "carol"] = quota_limit(lab, "Carol.Jones@Guide-Two.test")
    return results


EXPECTED = {
    ("dkim", "alice"): [("2020._domainkey.guide-one.test", True)],
    ("dkim", "dave"): [("ed1._domainkey.guide-two.test", True), ("rsa1._domainkey.guide-two.test", True)],
    ("rcpt", "nobody@guide-one.test"): 5,
    ("rcpt", "someone@elsewhere.example"): 5,
    ("send as", "alice as dave"): False,
}


def adopt_output(lab) -> str:
    out = io.StringIO()
    call_command(
        "adopt",
        "--yes",
        "--smtpd-conf",
        str(lab.root / "etc/smtpd.conf"),
        "--dovecot-conf",
        str(lab.root / "etc/dovecot/dovecot.conf"),
        "--dkim-signing-conf",
        str(lab.root / "etc/rspamd/local.d/dkim_signing.conf"),
        stdout=out,
    )
    return out.getvalue()


def test_an_adopted_guide_host_serves_exactly_as_before(lab):
    records = build_guide_host(lab)
    start_guide_host(lab)
    stored = message("someone@elsewhere.example", "Carol.Jones@Guide-Two.test")
    deliver_inbound(stored)
    assert fetch(lab, "Carol.Jones@Guide-Two.test", PASSWORDS["Carol.Jones@Guide-Two.test"], stored["Subject"])
    assert (lab.vmail / "Guide-Two.test/Carol.Jones/Maildir").is_dir()  # the path with capitals

    before = checks(lab, records)
    for key, value in before.items():
        wanted = EXPECTED.get(key, False if "wrong password" in key[0] else 2 if key[0] == "rcpt" else None)
        if wanted is not None:
            assert value == wanted, (key, value)
        elif key[0] == "delivery":
            assert all(value.values()), (key, value)
        elif key[0] != "quota":
            assert value is True, (key, value)
    assert (before["quota", "alice"], before["quota", "carol"]) == (1024 * 1024, 500 * 1024)
    carol_smtp_as_written = smtp_auth(lab, "Carol.Jones@Guide-Two.test", PASSWORDS["Carol.Jones@Guide-Two.test"])
    smtpd_before = lab.pid("smtpd")

    output = adopt_output(lab)
    # What the dry run said would change, all of it: nothing else may.
    changes = [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("changes: ")]
    assert changes == [
        "SMTP logins (smtpd.conf): OpenSMTPD took SMTP user names in any mix of capitals here (its tables compare in "
        "lower case); the panel's OpenSMTPD checks passwords through PAM, which takes a name only as the panel "
        "stores it, in lower case: a mail app that signs in to SMTP as Alice@Example.org must be changed to "
        "alice@example.org",
        f"carol.jones@guide-two.test ({lab.root}/etc/dovecot/users:3): signs in as Carol.Jones@Guide-Two.test: IMAP "
        "takes that spelling still (and any other), SMTP takes only carol.jones@guide-two.test",
        f"alice@guide-one.test ({lab.root}/etc/smtpd/sendas:1): may now send as postmaster@guide-three.test, "
        "postmaster@guide-two.test (they deliver to it)",
    ], output
    carol = Mailbox.objects.get(local_part="carol.jones", domain__name="guide-two.test")
    assert carol.home == f"{lab.vmail}/Guide-Two.test/Carol.Jones", output
    assert DkimKey.objects.filter(state=DkimKey.ACTIVE).count() == 3
    # A domain that brings its keys gets no new one; one that signed nothing gets the panel's, pending.
    pending = DkimKey.objects.exclude(state=DkimKey.ACTIVE).values_list("domain__name", "state")
    assert list(pending) == [("guide-three.test", DkimKey.PENDING)]
    apply_now()

    # The daemons now run on the panel's generation, not on the files written by hand.
    current = lab.root / "etc/mailadmin/current"
    for path in ["etc/smtpd.conf", "etc/dovecot/dovecot.conf", "etc/rspamd/local.d/dkim_signing.conf"]:
        assert (lab.root / path).resolve().is_relative_to(current.resolve()), path
        assert (lab.root / f"{path}.mailadmin-orig").read_bytes().startswith(b"# Built by hand")
    assert lab.pid("smtpd") != smtpd_before

    after = checks(lab, records)
    assert after == before
    # The one difference the dry run names: SMTP takes Carol's name only in lower case now.
    assert carol_smtp_as_written
    assert not smtp_auth(lab, "Carol.Jones@Guide-Two.test", PASSWORDS["Carol.Jones@Guide-Two.test"])
    # The mail stored before adopting, in the path with capitals, is still there, whichever
    # way Carol spells her name for IMAP; no second, empty mailbox was made in lower case.
    for user in ["Carol.Jones@Guide-Two.test", "carol.jones@guide-two.test"]:
        assert fetch(lab, user, PASSWORDS["Carol.Jones@Guide-Two.test"], stored["Subject"], timeout=2), user
    assert not (lab.vmail / "guide-two.test/carol.jones").exists()


def test_under_dovecots_default_a_line_with_capitals_was_never_found_and_works_once_adopted(lab):
    """The measurement behind keeping homes only for case-keeping hosts: with Dovecot's default
    auth_username_format (%Lu) the name is lower-cased before the passwd-file is searched, so
    Carol.Jones@Guide-Two.test's line is never found, and no mail is stored under capitals."""
    build_guide_host(lab, username_format="%Lu")
    start_guide_host(lab)
    carol = PASSWORDS["Carol.Jones@Guide-Two.test"]
    doveadm = ["doveadm", "-c", str(lab.root / "etc/dovecot/dovecot.conf"), "user"]
    for spelling in ["Carol.Jones@Guide-Two.test", "carol.jones@guide-two.test"]:
        assert not imap_login(lab, spelling, carol)
        assert b"doesn't exist" in subprocess.run([*doveadm, spelling], capture_output=True).stdout
    deliver_inbound(message("someone@elsewhere.example", "Carol.Jones@Guide-Two.test"))  # accepted, then LMTP 550
    assert imap_login(lab, "dave@guide-two.test", PASSWORDS["dave@guide-two.test"])
    assert not (lab.vmail / "Guide-Two.test").exists()

    output = adopt_output(lab)
    assert (
        f"changes: Carol.Jones@Guide-Two.test ({lab.root}/etc/dovecot/users:3): never signed in nor received mail "
        "here: Dovecot looks names up in lower case and this line has capitals; as carol.jones@guide-two.test it will"
    ) in output
    assert Mailbox.objects.get(local_part="carol.jones").home == ""
    apply_now()
    msg = message("someone@elsewhere.example", "Carol.Jones@Guide-Two.test")
    deliver_inbound(msg)
    assert fetch(lab, "Carol.Jones@Guide-Two.test", carol, msg["Subject"])
    assert smtp_auth(lab, "carol.jones@guide-two.test", carol)
    assert (lab.vmail / "guide-two.test/carol.jones/Maildir").is_dir()
