"""The CSV file itself: what is read, what is refused with a reason, and how cells are written."""

import doctest
import re

import pytest

from accounts.mailpasswords import make_hash
from transfer import csvformat, passwords
from transfer.csvformat import FileError, neutralise, read, unneutralise

HEADER = "type,address,name,quota,active,password,destinations"


def test_the_examples_in_the_docstrings_hold():
    for module in (csvformat, passwords):
        assert doctest.testmod(module).failed == 0


def test_it_reads_utf8_with_or_without_a_byte_order_mark_and_any_line_ending():
    body = f"{HEADER}\nmailbox,zoë@example.org,Zoë,,,,\nalias,info@example.org,,,,,zoë@example.org\n"
    for data in (body.encode(), b"\xef\xbb\xbf" + body.encode(), body.replace("\n", "\r\n").encode()):
        rows = read(data)
        assert [(r.number, r.cells["type"], r.cells["name"]) for r in rows] == [
            (2, "mailbox", "Zoë"),
            (3, "alias", ""),
        ]


def test_it_reads_semicolons_when_the_first_line_has_no_comma():
    rows = read(b"type;address;name\nmailbox;alice@example.org;Alice, Liddell\n")
    assert rows[0].cells == {"type": "mailbox", "address": "alice@example.org", "name": "Alice, Liddell"}


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers():
    rows = read(f"\n{HEADER}\n\n,,,,,,\nmailbox,a@example.org\n".encode())
    assert [row.number for row in rows] == [5]


def test_a_column_left_out_is_absent_not_empty():
    rows = read(b"type,address\nmailbox,alice@example.org\n")
    assert rows[0].cells == {"type": "mailbox", "address": "alice@example.org"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("type,address\nmailbox,zoë@example.org\n".encode("utf-16"), "The file is UTF-16 text. Save it as “CSV UTF-8”"),
        ("type,address\nmailbox,zoë@example.org\n".encode("utf-32"), "The file is UTF-32 text."),
        ("type,address\n\nmailbox,zoë@example.org\n".encode("latin-1"), "line 3 has the byte 0xEB"),
        ("type,address\nmailbox,a@example.org\n".encode("utf-16-le"), "a NUL byte between most characters"),
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (b"kind,address\n", "unknown column “kind”"),
        (b"type,name\n", "no column “address”"),
        (b"type,address,name,name\n", "the column “name” twice"),
    ],
)
def test_it_refuses_a_file_it_cannot_read_for_certain(data, message):
    with pytest.raises(FileError, match=re.escape(message)):
        read(data)


def test_it_refuses_a_file_too_large_or_too_long(monkeypatch):
    with pytest.raises(FileError, match=r"The file has 8\.4 MB; the most is 8\.4 MB"):
        read(b"x" * (csvformat.MAX_BYTES + 1))
    monkeypatch.setattr(csvformat, "MAX_LINES", 3)
    read((f"{HEADER}\n" + "mailbox,a@example.org\n" * 3).encode())
    with pytest.raises(FileError, match="more than 3 lines. Split it"):
        read((f"{HEADER}\n" + "mailbox,a@example.org\n" * 4).encode())


def test_a_line_with_more_cells_than_the_header_is_marked_for_its_error():
    rows = read(b"type,address\nmailbox,a@example.org,surprise\nmailbox,b@example.org,,\n")
    assert rows[0].cells["_extra"] == "3"
    assert "_extra" not in rows[1].cells  # empty cells past the end are what spreadsheets write


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n", "\0"])
def test_a_cell_that_starts_like_a_formula_is_written_as_text_and_read_back_as_it_was(start):
    value = f'{start}HYPERLINK("http://evil.example","x")'
    assert neutralise(value) == "'" + value
    assert unneutralise(neutralise(value)) == value
    written = "".join(csvformat.write([["mailbox", "a@example.org", value, "", "", "", ""]]))
    assert read(written.encode())[0].cells["name"] == value


def test_other_cells_are_written_and_read_as_they_are():
    for value in ["Alice", "'quoted'", "O'Brien", "a,b", 'say "hi"', "", "1+1"]:
        assert neutralise(value) == value and unneutralise(value) == value


def test_the_written_file_starts_with_the_header():
    assert "".join(csvformat.write([])) == HEADER + "\r\n"


# Passwords: plain text, or a hash both daemons verify.


def test_a_hash_this_panel_makes_is_kept():
    for hashed in (make_hash("x"), make_hash("y", cost=7)):
        assert passwords.classify(hashed) == passwords.Password("hash", hash=hashed)


@pytest.mark.parametrize(
    "hashed",
    [
        "$6$xQq/mZGayJ9SAF7b$KwrmBgyqBfloQQSdJZgU3cmXlbtX.KZsAdYnVdPvPiMgk97x.uwDe6umHVezjtreynPqYbpR0p3XC.ngEATDW1",
        "$5$GVHdDjmJwvXlh3Ad$tUVV4cottS.udlRqM8K2HBjSMzT7PHg/3zqrdWNwrd8",
        "$2b$05$KHfT.Km.OKqvkY.LcEmOH.H730tltWuR86So20touh1KSBLjcXKZO",
        "$2y$10$KHfT.Km.OKqvkY.LcEmOH.H730tltWuR86So20touh1KSBLjcXKZO",
    ],
)
def test_sha_crypt_and_bcrypt_hashes_are_kept(hashed):
    assert passwords.classify(hashed) == passwords.Password("hash", hash=hashed)
    assert passwords.classify("{CRYPT}" + hashed).hash == hashed


def test_dovecot_scheme_prefixes_of_those_hashes_are_taken_off():
    sha512 = "$6$salt$" + "a" * 86
    assert passwords.classify("{SHA512-CRYPT}" + sha512).hash == sha512
    assert passwords.classify("{sha512-crypt}" + sha512).hash == sha512
    assert passwords.classify("{BLF-CRYPT}$2y$10$" + "b" * 53).kind == "hash"
    assert "not a $6$ hash" in passwords.classify("{SHA512-CRYPT}$5$salt$" + "a" * 43).error


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("$1$saltsalt$abcdefghijklmnopqrstuv", "an MD5-crypt hash ($1$): too weak to keep"),
        ("$apr1$salt$abcdefghijklmnopqrstuv", "an Apache MD5 hash"),
        ("$2a$10$" + "b" * 53, "of the old $2a$ kind"),
        ("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", "argon2id hash: Dovecot verifies it, OpenSMTPD cannot"),
        ("{ARGON2ID}$argon2id$v=19$m=65536", "a {ARGON2ID} hash: OpenSMTPD verifies crypt(3) hashes only"),
        ("{SSHA512}c2FsdGVkaGFzaA==", "a {SSHA512} hash"),
        ("{PLAIN}secret", "a {PLAIN} hash"),
        ("$6$rounds=10000$salt$" + "a" * 86, "a SHA-512-crypt hash with a rounds= setting"),
        ("$y$j9T$salt$tooshort", "a yescrypt hash ($y$) that is incomplete or damaged"),
        ("$6$salt$" + "a" * 85, "a SHA-512-crypt hash ($6$) that is incomplete or damaged"),
        ("$9$abc$def", "a $9$ hash, a scheme this panel does not know"),
    ],
)
def test_other_hashes_are_refused_with_the_reason_and_without_echoing_them(value, reason):
    given = passwords.classify(value)
    assert given.kind == "hash" and not given.hash
    assert reason in given.error
    assert "Give the password in plain text, or a $y$ (yescrypt)" in given.error
    assert value[6:] not in given.error


@pytest.mark.parametrize("value", ["correct horse battery staple", "$ecret dollars", "{not a scheme", "$$$$$$$$$$"])
def test_anything_else_is_a_plain_text_password(value):
    assert passwords.classify(value) == passwords.Password("plain")
