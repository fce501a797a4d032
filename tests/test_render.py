"""The rendered files say exactly what the database says, and nothing else can be rendered."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import actions
from audit.log import COMMAND_LINE
from core.addresses import normalize_address, normalize_domain, normalize_local_part
from core.mailhost import HostConfig
from domains.actions import create_domain
from export.render import RenderError, render, render_vetted, sender_addresses, vet
from export.snapshot import AliasRow, AppPasswordRow, DkimKeyRow, MailboxRow, Snapshot, take_snapshot

HASH = "$y$j9T$FOqg79T.1aaakbQPXOu.H1$56Z60oKeb7Ivn04HUPUTrtofaOGgpVTQ8PqcEchW8FC"
HOST = HostConfig("mail.example.net", __import__("pathlib").Path("/"))


# --- parsers, written from the daemons' documented formats ---------------------------------


def parse_users(data: bytes) -> dict[str, int]:
    """Dovecot's userdb (passwd-file): user -> quota in MiB; the password field stays empty."""
    users = {}
    for line in data.decode().splitlines():
        user, password, uid, gid, gecos, home, shell, extra = line.split(":", 7)
        assert (password, uid, gid, gecos, home, shell) == ("", "", "", "", "", "")
        quota = int(extra.removeprefix("userdb_quota_rule=*:storage=").removesuffix("M")) if extra else 0
        assert user not in users
        users[user] = quota
    return users


def parse_passwords(data: bytes) -> dict[str, str]:
    """user:crypt-hash, as pam_pwdfile and Dovecot's passwd-file (scheme=CRYPT) read it."""
    passwords = {}
    for line in data.decode().splitlines():
        user, hashed = line.split(":")
        assert user not in passwords
        passwords[user] = hashed
    return passwords


def parse_mapping(data: bytes) -> dict[str, list[str]]:
    table = {}
    for line in data.decode().splitlines():
        key, value = line.split(" ", 1)
        assert key not in table
        table[key] = value.split(",")
    return table


def parse_list(data: bytes) -> list[str]:
    return data.decode().splitlines()


# --- what the forms accept ----------------------------------------------------------------


def accepted(normalize):
    def keep(value):
        try:
            return normalize(value) == value
        except Exception:
            return False

    return keep


local_parts = st.text("abcz09._-", min_size=1, max_size=12).filter(accepted(normalize_local_part))
labels = st.text("abcxyz019-", min_size=1, max_size=10)
domains = (
    st.lists(labels, min_size=1, max_size=2)
    .map(lambda ls: ".".join(ls) + ".example")
    .filter(accepted(normalize_domain))
)


@st.composite
def snapshots(draw, valid_only: bool = True):
    names = draw(st.lists(domains, min_size=1, max_size=3, unique=True))
    mailboxes = draw(
        st.lists(
            st.tuples(local_parts, st.sampled_from(names), st.integers(0, 10**6)),
            max_size=8,
            unique_by=lambda m: (m[0], m[1]),
        )
    )
    taken = {(lp, d) for lp, d, _ in mailboxes}
    alias_keys = draw(
        st.lists(st.tuples(st.one_of(st.just(""), local_parts), st.sampled_from(names)), max_size=5, unique=True).map(
            lambda keys: [k for k in keys if k not in taken]
        )
    )
    outside = st.tuples(local_parts, st.just("elsewhere.example")).map(lambda t: f"{t[0]}@{t[1]}")
    # What the alias form accepts: outside addresses, or mailboxes of ours (aliasrules.check_alias).
    ours = [f"{lp}@{d}" for lp, d, _ in mailboxes] if valid_only else []
    anywhere = st.tuples(local_parts, st.sampled_from(names)).map(lambda t: f"{t[0]}@{t[1]}")
    destinations = st.lists(
        st.one_of(outside, *([st.sampled_from(ours)] if ours else []), *([] if valid_only else [anywhere])).filter(
            accepted(normalize_address)
        ),
        min_size=1,
        max_size=3,
        unique=True,
    )
    return Snapshot(
        domains=tuple(names),
        mailboxes=tuple(MailboxRow(lp, d, HASH, q) for lp, d, q in mailboxes),
        aliases=tuple(AliasRow(lp, d, tuple(draw(destinations))) for lp, d in alias_keys),
    )


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_parsing_the_rendered_files_gives_back_the_database(snapshot):
    files = render(snapshot, HOST)
    assert parse_users(files["dovecot/users"]) == {m.address: m.quota_mb for m in snapshot.mailboxes}
    assert parse_passwords(files["dovecot/passwords"]) == {m.address: m.password_hash for m in snapshot.mailboxes}
    assert parse_list(files["smtpd/domains"]) == [*snapshot.domains, HOST.hostname]
    virtuals = parse_mapping(files["smtpd/virtuals"])
    expected = {m.address: ["vmail"] for m in snapshot.mailboxes}
    expected |= {f"{a.local_part}@{a.domain}": list(a.destinations) for a in snapshot.aliases}
    assert virtuals == expected
    senders = parse_mapping(files["smtpd/senderaddrs"])
    assert set(senders) == {m.address for m in snapshot.mailboxes}
    for mailbox, allowed in senders.items():
        assert allowed[0] == mailbox


@settings(max_examples=150, deadline=None)
@given(snapshots(valid_only=False))
def test_rows_the_daemons_could_not_use_are_left_out_and_named_and_the_rest_renders(snapshot):
    vetted = vet(snapshot, HOST)
    files = render_vetted(vetted, HOST)
    virtuals = parse_mapping(files["smtpd/virtuals"])
    ours = set(snapshot.domains)
    for destinations in virtuals.values():
        for destination in destinations:
            domain = destination.rpartition("@")[2]
            # Every destination is the mailbox user, outside, or a key smtpd finds (itself or a catch-all).
            assert destination == "vmail" or domain not in ours or destination in virtuals or f"@{domain}" in virtuals
    left_out = {p.row.removeprefix("alias ") for p in vetted.problems}
    assert left_out | set(virtuals) >= {f"{a.local_part}@{a.domain}" for a in snapshot.aliases}
    assert all(p.domain in ours for p in vetted.problems)


def test_it_renders_exactly_the_live_database(db):
    domain = create_domain("Bücher.example", actor=COMMAND_LINE, default_quota_mb=100)
    off = create_domain("off.example", actor=COMMAND_LINE, active=False)
    alice = actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "gone", "gone mail password", actor=COMMAND_LINE, active=False)
    actions.create_mailbox(off, "hidden", "hidden mail password", actor=COMMAND_LINE)
    actions.create_alias(domain, "info", ["alice@xn--bcher-kva.example", "x@elsewhere.example"], actor=COMMAND_LINE)
    files = render(take_snapshot(), HOST)
    assert parse_users(files["dovecot/users"]) == {"alice@xn--bcher-kva.example": 100}
    assert parse_passwords(files["dovecot/passwords"]) == {"alice@xn--bcher-kva.example": alice.password_hash}
    assert parse_list(files["smtpd/domains"]) == ["xn--bcher-kva.example", "mail.example.net"]
    assert parse_mapping(files["smtpd/senderaddrs"]) == {
        "alice@xn--bcher-kva.example": ["alice@xn--bcher-kva.example", "info@xn--bcher-kva.example"]
    }


def test_alias_domains_and_chained_aliases_give_sending_rights_but_catch_alls_do_not():
    snapshot = Snapshot(
        domains=("example.org",),
        alias_domains=(("example.com", "example.org"),),
        mailboxes=(MailboxRow("alice", "example.org", HASH, 0),),
        aliases=(
            AliasRow("team", "example.org", ("sales@example.org",)),
            AliasRow("sales", "example.org", ("alice@example.org",)),
            AliasRow("", "example.org", ("alice@example.org",)),
        ),
    )
    assert sender_addresses(snapshot) == {
        "alice@example.org": [
            "alice@example.org",
            "alice@example.com",
            "sales@example.com",
            "sales@example.org",
            "team@example.com",
            "team@example.org",
        ]
    }
    virtuals = parse_mapping(render(snapshot, HOST)["smtpd/virtuals"])
    assert virtuals["@example.com"] == ["alice@example.org"]  # the target's catch-all covers the alias domain


def test_a_loop_of_aliases_renders_and_gives_no_rights():
    snapshot = Snapshot(
        domains=("example.org",),
        mailboxes=(MailboxRow("alice", "example.org", HASH, 0),),
        aliases=(AliasRow("a", "example.org", ("b@example.org",)), AliasRow("b", "example.org", ("a@example.org",))),
    )
    assert sender_addresses(snapshot) == {"alice@example.org": ["alice@example.org"]}


@pytest.mark.parametrize(
    "snapshot,message",
    [
        (Snapshot(domains=("exa mple.org",)), "cannot contain a space"),
        (
            Snapshot(domains=("example.org",), mailboxes=(MailboxRow("a:b", "example.org", HASH, 0),)),
            "cannot contain “:”",
        ),
        (Snapshot(domains=("example.org",), mailboxes=(MailboxRow("a\nb", "example.org", HASH, 0),)), "line break"),
        (
            Snapshot(domains=("example.org",), mailboxes=(MailboxRow("Alice", "example.org", HASH, 0),)),
            "not in its stored form",
        ),
        (
            Snapshot(domains=("example.org",), mailboxes=(MailboxRow("a", "example.org", HASH + "\nx:y", 0),)),
            "no crypt(3) hash",
        ),
        (
            Snapshot(
                domains=("example.org",), mailboxes=(MailboxRow("a", "example.org", "{ARGON2ID}$argon2id$v=19$x", 0),)
            ),
            "no crypt(3) hash",
        ),
        (Snapshot(domains=("example.org",), mailboxes=(MailboxRow("a", "other.org", HASH, 0),)), "not exported"),
        (
            Snapshot(domains=("example.org",), aliases=(AliasRow("a", "example.org", ("b c@example.org",)),)),
            "cannot contain a space",
        ),
        (
            Snapshot(domains=("example.org",), aliases=(AliasRow("a", "example.org", ("x@y.org,z@w.org",)),)),
            "is not an email address",
        ),
        (
            Snapshot(domains=("example.org",), dkim_keys=(DkimKeyRow("example.org", "s 1", "rsa", b""),)),
            "not a lowercase DNS label",
        ),
        (
            Snapshot(
                domains=("example.org",),
                dkim_keys=(DkimKeyRow("example.org", "s1", "ed25519", b"-----BEGIN PRIVATE KEY-----\n"),),
            ),
            "not a base64 Ed25519 seed",
        ),
    ],
)
def test_it_refuses_to_render_what_a_daemon_would_read_differently(snapshot, message):
    with pytest.raises(RenderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render(snapshot, HOST)


def test_the_daemon_configuration_follows_the_guide():
    files = render(Snapshot(domains=("example.org",)), HOST)
    dovecot = files["dovecot/dovecot.conf"].decode()
    for line in [
        "ssl = required",
        "disable_plaintext_auth = yes",
        "ssl_min_protocol = TLSv1.2",
        "mail_location = maildir:~/Maildir",
        "protocols = imap lmtp",
        "args = scheme=CRYPT username_format=%Lu /etc/mailadmin/current/dovecot/passwords",
        "args = scheme=CRYPT username_format=%Lu /etc/mailadmin/current/dovecot/app-passwords-10",
        "args = username_format=%Lu /etc/mailadmin/current/dovecot/users",
    ]:
        assert line in dovecot
    smtpd = files["smtpd/smtpd.conf"].decode()
    assert "listen on 0.0.0.0 port 587 tls-require pki mail.example.net auth senders <senderaddrs>" in smtpd
    assert "listen on :: port 465 smtps pki mail.example.net auth" in smtpd
    assert 'action "deliver" lmtp "/var/run/dovecot/lmtp" rcpt-to virtual <virtuals> userbase <vusers>' in smtpd
    assert "sign_authenticated = true;" in files["rspamd/local.d/dkim_signing.conf"].decode()


def test_app_passwords_go_one_per_slot_and_app_passwords_only_leaves_the_own_password_out():
    other = "$y$j9T$FOqg79T.1aaakbQPXOu.H1$56Z60oKeb7Ivn04HUPUTrtofaOGgpVTQ8PqcEchW8FC0"
    snapshot = Snapshot(
        domains=("example.org",),
        mailboxes=(
            MailboxRow("alice", "example.org", HASH, 0),
            MailboxRow("bob", "example.org", HASH, 0, app_passwords_only=True),
        ),
        app_passwords=(
            AppPasswordRow("alice@example.org", 1, other),
            AppPasswordRow("alice@example.org", 3, other),
            AppPasswordRow("bob@example.org", 1, other),
            AppPasswordRow("bob@example.org", 11, other),  # no such slot
            AppPasswordRow("bob@example.org", 2, "plain text"),  # not a hash
            AppPasswordRow("gone@example.org", 2, other),  # no such mailbox
        ),
    )
    vetted = vet(snapshot, HOST)
    files = render_vetted(vetted, HOST)
    assert parse_passwords(files["dovecot/passwords"]) == {"alice@example.org": HASH}  # bob: app passwords only
    assert parse_passwords(files["dovecot/app-passwords-1"]) == {"alice@example.org": other, "bob@example.org": other}
    assert files["dovecot/app-passwords-2"] == b""
    assert parse_passwords(files["dovecot/app-passwords-3"]) == {"alice@example.org": other}
    assert "dovecot/app-passwords-11" not in files
    assert sorted(p.reason for p in vetted.problems) == [
        "has no crypt(3) hash both daemons verify",
        "is in slot 11, not 1 to 10",
    ]
    assert parse_users(files["dovecot/users"]) == {"alice@example.org": 0, "bob@example.org": 0}
