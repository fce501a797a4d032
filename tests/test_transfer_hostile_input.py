"""Whatever a CSV file holds, the import answers with a clear error per line, or for the file,
and writes nothing; nothing in it reaches a page as markup or the database as a NUL."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains

from accounts.models import Alias, Mailbox
from domains.models import Domain
from transfer import csvformat
from transfer.csvformat import read
from transfer.models import ImportJob, ImportLine
from transfer.plan import plan

HEADER = "type,address,name,quota,active,password,destinations"
GOOD = "a good mail password 7"


def dry_run(user, data: bytes) -> dict[int, str]:
    return {line.number: line.message for line in plan(read(data), user).lines if line.plan == "error"}


def nothing_written() -> bool:
    return not Mailbox.objects.exists() and not Alias.objects.exists() and Domain.objects.count() == 1


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("Bo\0b", "name: This cannot contain a NUL byte."),
        ("Bob\u202e", "name: This cannot contain the invisible character U+202E (right-to-left override)."),
        ("\ufeffBob", "name: This cannot contain the invisible character U+FEFF (zero width no-break space)."),
        ('"Bob\nSmith"', "name: This cannot contain a line break."),
        ("\tBob", "name: This cannot contain a tab."),
        ("B" * 300, "the name has 300 characters; the most is 255"),
        ("B" * 5000, "the name cell has 5,000 characters; the most is 4,096"),
    ],
)
def test_a_hostile_name_is_refused_with_its_line(superadmin, domain, cell, message):
    errors = dry_run(superadmin, f"{HEADER}\nmailbox,bob@example.org,{cell},,,{GOOD},\n".encode())
    assert errors == {2: message}


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("bo\0b@example.org", "“bo\\x00b@example.org”: The part before the @ cannot contain a NUL byte"),
        ("bob@exa\0mple.org", "“bob@exa\\x00mple.org”: A domain name cannot contain a NUL byte."),
        ("=cmd|' /C calc'!A0", "“=cmd|' /C calc'!A0” is not an email address (it needs exactly one @)."),
        ("b" * 65 + "@example.org", "The part before the @ can have at most 64 characters."),
        ("<script>@example.org", "The part before the @ cannot contain “<”"),
    ],
)
def test_a_hostile_address_is_refused_and_stored_printable(superadmin, domain, address, message):
    errors = dry_run(superadmin, f"{HEADER}\nmailbox,{address},,,,{GOOD},\n".encode())
    assert message in errors[2] and "\0" not in errors[2]


def test_a_nul_byte_anywhere_is_reported_on_its_line_and_never_stored(superadmin_client, domain):
    data = f"{HEADER}\nmailbox,bob@example.org,,,,{GOOD},\nmailbox,carol@example.org,,,y\0s,{GOOD},\nalias,x@example.org,,,,,a@b.example\0\n"
    response = superadmin_client.post("/csv/import/", {"file": SimpleUploadedFile("x.csv", data.encode())})
    job = ImportJob.objects.get()
    page = superadmin_client.get(response["Location"])
    assertContains(page, "active must be yes or no, not “y\\x00s”")
    assertContains(page, "destinations: This cannot contain a NUL byte.")
    stored = ImportLine.objects.values_list("address", "shown", "message")
    assert [row for row in stored if "\0" in "".join(row)] == []
    assert job.state == ImportJob.REFUSED and nothing_written()


def test_lone_surrogates_and_other_bytes_utf8_forbids_are_refused_as_an_encoding(superadmin, domain):
    for data in (b"type,address\nmailbox,\xed\xa0\x80@example.org\n", b"type,address\nmailbox,\xff@example.org\n"):
        with pytest.raises(csvformat.FileError, match="The file is not UTF-8 text: line 2"):
            read(data)


def test_repeated_lines_are_refused_after_the_first(superadmin, domain):
    line = f"mailbox,bob@example.org,,,,{GOOD},"
    errors = dry_run(superadmin, f"{HEADER}\n{line}\n{line}\n{line.replace('bob', 'BOB')}\n".encode())
    assert errors == {3: "bob@example.org is on line 2 already", 4: "bob@example.org is on line 2 already"}


def test_lines_for_domains_a_domain_admin_does_not_own_write_nothing(domain_admin_client, domain, other_domain):
    data = (
        f"{HEADER}\nmailbox,bob@example.org,,,,{GOOD},\nmailbox,eve@other.example,,,,{GOOD},\n"
        "alias,@other.example,,,,,bob@example.org\ndomain,evil.example,,,,,\n"
    )
    response = domain_admin_client.post("/csv/import/", {"file": SimpleUploadedFile("x.csv", data.encode())})
    page = domain_admin_client.get(response["Location"])
    assertContains(page, "other.example is not one of your domains", count=2)
    assertContains(page, "evil.example is not one of your domains")
    assert ImportJob.objects.get().state == ImportJob.REFUSED
    assert not Mailbox.objects.exists() and not Alias.objects.exists() and Domain.objects.count() == 2


def test_too_many_lines_is_one_clear_error(superadmin_client, domain, monkeypatch):
    monkeypatch.setattr(csvformat, "MAX_LINES", 5)
    data = f"{HEADER}\n" + "".join(f"mailbox,u{n}@example.org,,,,{GOOD},\n" for n in range(6))
    response = superadmin_client.post("/csv/import/", {"file": SimpleUploadedFile("x.csv", data.encode())})
    assertContains(response, "The file has more than 5 lines. Split it into smaller files.", status_code=400)
    assert not ImportJob.objects.exists() and nothing_written()


def test_a_formula_in_a_cell_is_kept_as_text_and_neutralised_when_exported(superadmin, superadmin_client, domain):
    from transfer import runner

    data = f'{HEADER}\nmailbox,bob@example.org,"=HYPERLINK(""http://evil.example"")",,,{GOOD},\n'
    result = plan(read(data.encode()), superadmin)
    job = runner.create_job(result, owner=superadmin, file_name="x.csv", confirmed=True)
    runner.hash_passwords(job.pk, result.plain_texts)
    assert Mailbox.objects.get().display_name == '=HYPERLINK("http://evil.example")'
    text = b"".join(superadmin_client.get("/csv/export.csv").streaming_content).decode()
    assert 'mailbox,bob@example.org,"\'=HYPERLINK(""http://evil.example"")",' in text


def test_a_hostile_file_name_is_kept_as_text(superadmin_client, domain):
    data = f"{HEADER}\nmailbox,bob@example.org,,,,x,\n".encode()
    name = "<img src=x onerror=alert(1)>\u202e.csv"
    response = superadmin_client.post("/csv/import/", {"file": SimpleUploadedFile(name, data)})
    page = superadmin_client.get(response["Location"])
    assertContains(page, "&lt;img src=x onerror=alert(1)&gt;")
    assert "\u202e" not in ImportJob.objects.get().file_name
