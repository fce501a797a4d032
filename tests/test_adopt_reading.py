"""Reading a host built by hand from the guide: what adopt understands, what it refuses and why.

Each test writes the guide's files into a directory (as the host's / would hold them) and reads
them with adopt.reading, then judges them with adopt.report (the CSV import's dry run)."""

import base64
import io
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adopt.reading import read_host
from adopt.report import dry_run
from adopt.sources import Archive, Directory, SourceError
from domains import dkim

Y = "$y$j9T$FOqg79T.1aaakbQPXOu.H1$56Z60oKeb7Ivn04HUPUTrtofaOGgpVTQ8PqcEchW8FC"
SHA512 = "$6$saltsalt$" + "A" * 86
SHA256 = "$5$saltsalt$" + "B" * 43
ARGON = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()

SMTPD_CONF = """# the guide's smtpd.conf
pki mail.example.org cert "/etc/ssl/mail.pem"
pki mail.example.org key "/etc/ssl/mail.key"
table domains file:/etc/smtpd/domains
table virtuals file:/etc/smtpd/virtuals
table passwds file:/etc/smtpd/passwds
table users file:/etc/smtpd/senders
filter "rspamd" proc-exec "filter-rspamd"
listen on eth0 port 25 tls pki mail.example.org filter "rspamd"
listen on eth0 port 587 tls-require pki mail.example.org auth <passwds> senders <users> filter "rspamd"
action "RECV" lmtp "/var/run/dovecot/lmtp" rcpt-to virtual <virtuals>
action "SEND" relay
match from any for domain <domains> action "RECV"
match auth from any for any action "SEND"
"""
DOVECOT_CONF = """protocols = imap lmtp
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u /etc/dovecot/users
  override_fields = uid=5000 gid=5000 home=/home/vmail/%d/%n
}
"""


@pytest.fixture(autouse=True)
def _production_mail_host(settings):
    # The production defaults (/home/vmail, uid and gid 5000), even after the daemon tests'
    # lab has pointed MAIL_HOST at itself for the rest of the session.
    settings.MAIL_HOST = {}


def guide_files() -> dict[str, str | bytes]:
    pkcs1 = RSA_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return {
        "/etc/smtpd.conf": SMTPD_CONF,
        "/etc/dovecot/dovecot.conf": DOVECOT_CONF,
        "/etc/dovecot/users": (
            f"alice@example.org:{Y}:::Alice Liddell:::userdb_quota_rule=*:storage=2G\n"
            f"bob@example.org:{{SHA512-CRYPT}}{SHA512}::::::\n"
            f"# a comment\n\ncarol@example.net:{SHA256}::::::\n"
        ),
        "/etc/smtpd/domains": "example.org\nexample.net\n",
        "/etc/smtpd/virtuals": (
            "alice@example.org vmail\nbob@example.org vmail\ncarol@example.net vmail\n"
            "info@example.org: alice@example.org, bob@example.org\n@example.net carol@example.net\n"
        ),
        "/etc/smtpd/passwds": f"alice@example.org {Y}\nbob@example.org {SHA512}\ncarol@example.net {SHA256}\n",
        "/etc/smtpd/senders": (
            "alice@example.org alice@example.org, info@example.org\nbob@example.org bob@example.org, info@example.org\n"
            "carol@example.net carol@example.net\n"
        ),
        "/etc/rspamd/local.d/dkim_signing.conf": (
            'allow_username_mismatch = false;\ndomain {\n  example.org {\n    path = "/var/lib/rspamd/dkim/example.org.2020.key";\n'
            '    selector = "2020";\n  }\n}\n'
        ),
        "/var/lib/rspamd/dkim/example.org.2020.key": pkcs1,
    }


def write_host(root, files: dict) -> Directory:
    for path, content in files.items():
        if content is None:
            continue
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return Directory(root)


def judge(tmp_path, **changes):
    files = guide_files()
    for key, value in changes.items():
        files["/" + key.replace("__", "/").replace("_dot_", ".")] = value
    reading = read_host(write_host(tmp_path, files))
    return reading, dry_run(reading, None).report


def findings(report, level: str) -> list[str]:
    return [f"{f.subject}: {f.message}" for f in report.findings if f.level == level]


def items(report) -> dict[str, tuple[str, str]]:
    return {f"{i.kind} {i.shown}": (i.plan, i.message) for i in report.items}


def test_it_understands_the_guides_host(tmp_path, db):
    reading, report = judge(tmp_path)
    assert not report.blocked, report.findings
    assert {key: plan for key, (plan, _) in items(report).items()} == {
        "domain example.org": "create",
        "domain example.net": "create",
        "mailbox alice@example.org": "create",
        "mailbox bob@example.org": "create",
        "mailbox carol@example.net": "create",
        "alias info@example.org": "create",
        "alias *@example.net": "create",
        "DKIM key 2020._domainkey.example.org": "create",
    }
    alice = next(row.cells for row in reading.rows if row.cells.get("address") == "alice@example.org")
    assert alice == {
        "type": "mailbox",
        "address": "alice@example.org",
        "name": "Alice Liddell",
        "quota": "2G",
        "password": Y,
    }
    bob = next(row.cells for row in reading.rows if row.cells.get("address") == "bob@example.org")
    assert bob["password"] == SHA512 and bob["quota"] == "unlimited"  # Dovecot's {SHA512-CRYPT} prefix is off
    assert reading.where[1] == "/etc/smtpd/domains:1"  # named as on the host
    key = reading.keys[0]
    assert (key.algorithm, key.bits, key.selector) == (dkim.RSA, 2048, "2020")
    assert key.private_export.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#1 read, PKCS#8 kept
    assert findings(report, "error") == []
    assert findings(report, "change") == [
        "SMTP logins: OpenSMTPD took SMTP user names in any mix of capitals here (its tables compare in lower case); "
        "the panel's OpenSMTPD checks passwords through PAM, which takes a name only as the panel stores it, in lower "
        "case: a mail app that signs in to SMTP as Alice@Example.org must be changed to alice@example.org"
    ]
    assert [f.path for f in report.files] == [
        "/etc/smtpd.conf",
        "/etc/smtpd/domains",
        "/etc/smtpd/virtuals",
        "/etc/smtpd/passwds",
        "/etc/smtpd/senders",
        "/etc/dovecot/dovecot.conf",
        "/etc/dovecot/users",
        "/etc/rspamd/local.d/dkim_signing.conf",
    ]


def test_an_archive_of_the_host_reads_the_same_and_follows_its_links(tmp_path, db):
    files = guide_files()
    files["/etc/smtpd/domains.real"] = files.pop("/etc/smtpd/domains")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc/smtpd/domains")
        link.type, link.linkname = tarfile.SYMTYPE, "domains.real"
        archive.addfile(link)
    source = Archive(buffer.getvalue(), "host.tgz")
    report = dry_run(read_host(source), None).report
    _, directory = judge(tmp_path)
    assert [(i.kind, i.shown, i.plan) for i in report.items] == [(i.kind, i.shown, i.plan) for i in directory.items]
    with pytest.raises(SourceError, match="not a tar archive"):
        Archive(b"PK\x03\x04 a zip file")


def test_capitals_in_a_users_line_never_worked_under_dovecots_default_and_work_once_adopted(tmp_path, db):
    users = f"Alice@Example.org:{Y}::::::\n"
    reading, report = judge(tmp_path, etc__dovecot__users=users)
    assert items(report)["mailbox alice@example.org"][0] == "create"
    assert (
        "Alice@Example.org: never signed in nor received mail here: Dovecot looks names up in lower case and "
        "this line has capitals; as alice@example.org it will" in findings(report, "change")
    )
    assert reading.homes == {}


def test_a_host_that_keeps_capitals_keeps_that_mailbox_home(tmp_path, db):
    conf = DOVECOT_CONF.replace("protocols", "auth_username_format = %u\nprotocols")
    users = f"Carol.Jones@Example.org:{Y}::::::\n"
    reading, report = judge(tmp_path, etc__dovecot__dovecot_dot_conf=conf, etc__dovecot__users=users)
    assert reading.homes == {"carol.jones@example.org": "/home/vmail/Example.org/Carol.Jones"}
    assert (
        "carol.jones@example.org: its mail stays where it is, in /home/vmail/Example.org/Carol.Jones (the panel "
        "would look in /home/vmail/example.org/carol.jones)" in findings(report, "note")
    )
    assert (
        "carol.jones@example.org: signs in as Carol.Jones@Example.org: IMAP takes that spelling still (and any "
        "other), SMTP takes only carol.jones@example.org" in findings(report, "change")
    )


@pytest.mark.parametrize(
    ("dovecot", "smtpd", "kept", "said"),
    [
        (f"{{ARGON2ID}}{ARGON}", SHA512, SHA512, "IMAP now takes its SMTP password"),
        (SHA512, None, SHA512, "could not send mail through OpenSMTPD here"),
        (SHA512, f"{{SHA512-CRYPT}}{SHA512}", SHA512, "OpenSMTPD could not verify its credentials line"),
    ],
)
def test_it_keeps_the_hash_both_daemons_verify(tmp_path, db, dovecot, smtpd, kept, said):
    passwds = f"alice@example.org {smtpd}\n" if smtpd else ""
    reading, report = judge(
        tmp_path, etc__dovecot__users=f"alice@example.org:{dovecot}::::::\n", etc__smtpd__passwds=passwds
    )
    assert reading.rows[2].cells["password"] == kept
    assert any(said in change for change in findings(report, "change"))


@pytest.mark.parametrize(
    ("dovecot", "smtpd", "error"),
    [
        (
            f"{{ARGON2ID}}{ARGON}",
            None,
            "A {ARGON2ID} hash: OpenSMTPD verifies crypt(3) hashes only, and OpenSMTPD has no hash",
        ),
        ("{PLAIN}secret", None, "A {PLAIN} hash: OpenSMTPD verifies crypt(3) hashes only"),
        ("", None, "its password field is empty"),
        (SHA512, SHA256, "Dovecot and OpenSMTPD hold different hashes for it"),
        ("$1$salt$hash", None, "An MD5-crypt hash ($1$): too weak to keep"),
    ],
)
def test_a_mailbox_without_one_hash_both_daemons_verify_is_an_error(tmp_path, db, dovecot, smtpd, error):
    passwds = f"alice@example.org {smtpd}\n" if smtpd else ""
    _, report = judge(tmp_path, etc__dovecot__users=f"alice@example.org:{dovecot}::::::\n", etc__smtpd__passwds=passwds)
    plan, message = items(report)["mailbox alice@example.org"]
    assert plan == "error" and error in message, message
    assert "plain text" not in message  # the import's words for a CSV file, not for a host
    assert report.blocked


def test_an_smtp_login_without_a_mailbox_is_an_error(tmp_path, db):
    _, report = judge(tmp_path, etc__smtpd__passwds=f"alice@example.org {Y}\nprinter@example.org {Y}\n")
    assert (
        "printer@example.org: signs in to OpenSMTPD but has no Dovecot user: the panel has no send-only logins "
        "(add it to Dovecot's users as a mailbox, or remove it from the credentials table)" in findings(report, "error")
    )


@pytest.mark.parametrize(
    ("rule", "quota", "error"),
    [
        ("*:storage=2048M", "2G", ""),
        ("*:storage=1T", "1T", ""),
        ("*:storage=1048576", "1G", ""),  # no unit: kilobytes (measured with doveadm quota get)
        ("*:bytes=1048576", "1M", ""),  # bytes= counts bytes
        ("*:storage=100", None, "not a whole number of megabytes"),
        ("*:messages=10", None, "not one storage limit"),
        ("*:storage=10%", None, "not a size"),
    ],
)
def test_quota_extra_fields(tmp_path, db, rule, quota, error):
    reading, report = judge(tmp_path, etc__dovecot__users=f"alice@example.org:{Y}::::::userdb_quota_rule={rule}\n")
    assert reading.rows[2].cells.get("quota") == quota
    plan, message = items(report)["mailbox alice@example.org"]
    assert (plan == "error") == bool(error) and error in message


def test_the_virtual_table_as_smtpd_reads_it(tmp_path, db):
    virtuals = (
        "alice@example.org vmail\nbob@example.org vmail\ncarol@example.net vmail\n"
        "abuse alice@example.org\n"  # no domain: every domain's
        "abuse@example.net: carol@example.net\n"  # its own wins over the bare key
        "@ bob@example.org\n"  # every domain's catch-all
        "@example.net vmail\n"  # Dovecot decides
    )
    reading, report = judge(tmp_path, etc__smtpd__virtuals=virtuals)
    aliases = {row.cells["address"]: row.cells["destinations"] for row in reading.rows if row.cells["type"] == "alias"}
    assert aliases == {
        "abuse@example.net": "carol@example.net",
        "abuse@example.org": "alice@example.org",
        "*@example.org": "bob@example.org",
    }
    assert any(c.startswith("*@example.net: every address went to Dovecot") for c in findings(report, "change"))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (
            "alice@example.org vmail, alice@elsewhere.example",
            "delivers to its own mailbox and to alice@elsewhere.example",
        ),
        ("info@example.org root", "delivers to the system user “root”"),
        ("info@example.org |/usr/bin/procmail", "delivers to “|/usr/bin/procmail”, which is not an address"),
        ("info+news@example.org alice@example.org", "a key with a +tag"),
    ],
)
def test_virtual_entries_the_panel_cannot_keep_are_errors(tmp_path, db, line, error):
    files = guide_files()
    _, report = judge(tmp_path, etc__smtpd__virtuals=files["/etc/smtpd/virtuals"] + line + "\n")
    assert report.blocked
    assert any(error in message for _, message in items(report).values()), items(report)


def test_a_user_the_virtual_table_does_not_name_is_said_to_get_mail_from_now_on(tmp_path, db):
    virtuals = "alice@example.org vmail\n@example.net carol@example.net\ncarol@example.net vmail\n"
    users = f"alice@example.org:{Y}::::::\nbob@example.org:{Y}::::::\ncarol@example.net:{Y}::::::\ndan@example.net:{Y}::::::\n"
    _, report = judge(tmp_path, etc__smtpd__virtuals=virtuals, etc__dovecot__users=users, etc__smtpd__passwds="")
    changes = findings(report, "change")
    assert "bob@example.org: received no mail here (OpenSMTPD's virtual table has no entry for it); it will" in changes
    assert (
        "dan@example.net: mail to it went to the catch-all (carol@example.net); it will go to its own mailbox"
        in changes
    )


def test_sending_rights_the_panel_gives_differently_are_named(tmp_path, db):
    senders = "alice@example.org alice@example.org, bob@example.org\nbob@example.org bob@example.org\n"
    _, report = judge(tmp_path, etc__smtpd__senders=senders)
    changes = findings(report, "change")
    assert any(c.startswith("alice@example.org: may no longer send as bob@example.org") for c in changes)
    assert "bob@example.org: may now send as info@example.org (they deliver to it)" in changes


@pytest.mark.parametrize(
    ("files", "error"),
    [
        (
            {
                "etc__smtpd__passwds": None,
                "etc__smtpd_dot_conf": SMTPD_CONF.replace("file:/etc/smtpd/passwds", "db:/etc/smtpd/passwds.db"),
            },
            "is a db: table, which adopt cannot read (adopt reads the text file it was made from",
        ),
        (
            {"etc__smtpd_dot_conf": SMTPD_CONF.replace("auth <passwds>", "auth")},
            "OpenSMTPD checks passwords through PAM",
        ),
        (
            {"etc__smtpd_dot_conf": SMTPD_CONF.replace('lmtp "/var/run/dovecot/lmtp" rcpt-to', "maildir")},
            "mail for these domains goes to “maildir”, not to Dovecot's LMTP",
        ),
        (
            {"etc__dovecot__dovecot_dot_conf": DOVECOT_CONF.replace("maildir:~/Maildir", "mdbox:~/mdbox")},
            "mail is kept as “mdbox:~/mdbox”; the panel keeps it as maildir:~/Maildir",
        ),
        (
            {"etc__dovecot__dovecot_dot_conf": DOVECOT_CONF.replace("/home/vmail", "/var/vmail")},
            "mail is kept below /var/vmail; the panel reads VMAIL_HOME=/home/vmail: set VMAIL_HOME=/var/vmail",
        ),
        (
            {"etc__dovecot__dovecot_dot_conf": DOVECOT_CONF.replace("uid=5000", "uid=5001")},
            "mail belongs to uid 5001 (5001); the panel writes VMAIL_UID=5000: set VMAIL_UID=5001",
        ),
        (
            {"etc__dovecot__dovecot_dot_conf": "# Generated by mailadmin from its database\n"},
            "was written by mailadmin: this host is already the panel's",
        ),
        ({"etc__smtpd__virtuals": None}, "cannot be read: /etc/smtpd/virtuals does not exist"),
    ],
)
def test_what_it_cannot_adopt_it_says_why(tmp_path, db, files, error):
    _, report = judge(tmp_path, **files)
    assert report.blocked
    assert any(error in message for message in findings(report, "error")), findings(report, "error")


def test_dkim_keys_as_rspamd_finds_them(tmp_path, db):
    seed = ED_KEY.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = ED_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signing = (
        "# one template for every domain, Rspamd's fallback\n"
        'path = "/var/lib/rspamd/dkim/$domain.$selector.key";\nselector = "Dkim";\n'
        "domain {\n  example.org {\n    selectors [\n"
        '      { path = "/keys/org_ed"; selector = "ed"; },\n      { path = "/keys/org_pem"; selector = "edpem"; }\n'
        '    ]\n  }\n  other.example { selector = "x"; }\n}\n'
    )
    _, report = judge(
        tmp_path,
        etc__rspamd__local_dot_d__dkim_signing_dot_conf=signing,
        keys__org_ed=base64.b64encode(seed + public) + b"\n",
        keys__org_pem=ED_KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        var__lib__rspamd__dkim__example_dot_net_dot_Dkim_dot_key=short,
    )
    assert {k: v for k, v in items(report).items() if k.startswith("DKIM")} == {
        "DKIM key ed._domainkey.example.org": ("create", "Ed25519 256 bits, signing"),
        "DKIM key edpem._domainkey.example.org": ("create", "Ed25519 256 bits, signing"),
        "DKIM key dkim._domainkey.example.net": ("create", "RSA 1024 bits, signing"),
    }
    assert any(
        c.startswith("edpem._domainkey.example.org: is an Ed25519 key in PEM") for c in findings(report, "change")
    )
    assert any("other.example is not a domain received here" in c for c in findings(report, "change"))
    assert any(n.startswith("dkim._domainkey.example.net: is a 1024-bit RSA key") for n in findings(report, "note"))


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (b"not a key", "is neither PEM nor a base64 Ed25519 key"),
        (base64.b64encode(b"x" * 40), "holds 40 bytes of base64"),
        (
            RSA_KEY.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
            "is encrypted with a passphrase",
        ),
        (None, "its key file cannot be read: /var/lib/rspamd/dkim/example.org.2020.key does not exist"),
    ],
)
def test_a_key_file_rspamd_could_not_use_either_is_an_error(tmp_path, db, key, error):
    _, report = judge(tmp_path, var__lib__rspamd__dkim__example_dot_org_dot_2020_dot_key=key)
    plan, message = items(report)["DKIM key 2020._domainkey.example.org"]
    assert plan == "error" and error in message, message


def test_includes_and_macros_are_followed_as_the_daemons_follow_them(tmp_path, db):
    smtpd = SMTPD_CONF.replace("table domains file:/etc/smtpd/domains\n", 'include "/etc/smtpd/tables.conf"\n')
    smtpd = 'lmtp_socket = "/var/run/dovecot/lmtp"\n' + smtpd.replace('"/var/run/dovecot/lmtp"', "$lmtp_socket")
    dovecot = DOVECOT_CONF.split("passdb {")[0] + "!include conf.d/*.conf\n!include_try /etc/dovecot/missing.conf\n"
    auth = "passdb {" + DOVECOT_CONF.split("passdb {")[1]
    _, report = judge(
        tmp_path,
        etc__smtpd_dot_conf=smtpd,
        etc__smtpd__tables_dot_conf="table domains file:/etc/smtpd/domains\n",
        etc__dovecot__dovecot_dot_conf=dovecot,
        etc__dovecot__conf_dot_d__10_auth_dot_conf=auth,
    )
    assert not report.blocked, report.findings
    assert items(report)["mailbox alice@example.org"][0] == "create"


@pytest.mark.parametrize(
    ("signing", "error"),
    [
        ("domain " + "{ a " * 100 + "}" * 100, "values are nested more than 32 deep"),
        ("domain { example.org { path = ", "the file ends in the middle of a value"),
        ('.include "$LOCAL_CONFDIR/local.d/keys.conf"', "the macro .include is not followed here"),
        ("use_redis = true;", "the keys are kept in Redis"),
    ],
)
def test_a_dkim_configuration_it_cannot_read_is_an_error_not_a_crash(tmp_path, db, signing, error):
    _, report = judge(tmp_path, etc__rspamd__local_dot_d__dkim_signing_dot_conf=signing)
    assert any(error in message for message in findings(report, "error")), findings(report, "error")


def test_an_archive_that_unpacks_too_large_is_refused_early(monkeypatch):
    monkeypatch.setattr("adopt.sources.MAX_TOTAL", 1000)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for n in range(3):
            info = tarfile.TarInfo(f"etc/file{n}")
            info.size = 600
            archive.addfile(info, io.BytesIO(b"\0" * 600))
    with pytest.raises(SourceError, match="unpacks to more than"):
        Archive(buffer.getvalue())


def test_archive_names_cannot_reach_outside_it(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in [("../../etc/smtpd.conf", b"outside"), ("etc/link", None)]:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/../../../../etc/passwd"
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    source = Archive(buffer.getvalue())
    assert source.read("/etc/smtpd.conf") == b"outside"  # read from the archive, never from the disk
    with pytest.raises(LookupError, match="/etc/passwd is not in"):
        source.read("/etc/link")
