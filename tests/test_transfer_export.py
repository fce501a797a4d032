"""The export: an admin's domains as CSV, hashes only for superadmins who ask, formulas neutralised,
and a file that reads back through the import unchanged."""

import pytest
from django.test import Client

from accounts import actions
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.actions import create_domain, update_domain
from transfer import exporting
from transfer.csvformat import read
from transfer.plan import plan


def download(client: Client, query: str = "") -> tuple[object, str]:
    response = client.get(f"/csv/export.csv{query}")
    return response, b"".join(response.streaming_content).decode() if response.status_code == 200 else ""


@pytest.fixture
def host(domain, other_domain, mailbox):
    actions.create_mailbox(other_domain, "otto", "an other password", actor=COMMAND_LINE, quota_mb=1536)
    actions.create_alias(domain, "info", ["alice@example.org", "someone@bücher.example"], actor=COMMAND_LINE)
    actions.create_alias(domain, "", ["alice@example.org"], actor=COMMAND_LINE, active=False)
    create_domain("twin.example", actor=COMMAND_LINE, alias_of=domain)
    update_domain(domain, actor=COMMAND_LINE, default_quota_mb=2048)
    return domain


def test_it_writes_the_domains_mailboxes_and_aliases(superadmin_client, host):
    response, text = download(superadmin_client)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="mailadmin-all-')
    assert response["Cache-Control"] == "no-store"
    assert text.startswith("\ufefftype,address,name,quota,active,password,destinations\r\n")
    assert text.splitlines()[1:] == [
        "domain,example.org,,2G,yes,,",
        "domain,other.example,,unlimited,yes,,",
        "domain,twin.example,,unlimited,yes,,example.org",
        "mailbox,alice@example.org,Alice Liddell,unlimited,yes,,",
        "mailbox,otto@other.example,,1536M,yes,,",
        "alias,*@example.org,,,no,,alice@example.org",
        "alias,info@example.org,,,yes,,alice@example.org someone@bücher.example",
    ]


def test_a_domain_admin_exports_only_their_domains(domain_admin_client, host):
    _, text = download(domain_admin_client)
    assert "other.example" not in text
    assert "domain,twin.example" in text  # an alias domain of theirs
    assert download(domain_admin_client, "?domain=other.example")[0].status_code == 404
    assert download(domain_admin_client, "?domain=nowhere.example")[0].status_code == 404
    assert download(domain_admin_client, "?domain=exa%00mple.org")[0].status_code == 404
    assert download(domain_admin_client, "?domain=EXAMPLE.org")[0].status_code == 200


def test_one_domain_alone(superadmin_client, host):
    response, text = download(superadmin_client, "?domain=other.example")
    assert 'filename="mailadmin-other.example-' in response["Content-Disposition"]
    assert text.splitlines()[1:] == ["domain,other.example,,unlimited,yes,,", "mailbox,otto@other.example,,1536M,yes,,"]


def test_hashes_only_when_a_superadmin_asks_and_the_export_is_audited(
    superadmin_client, domain_admin_client, host, mailbox
):
    _, text = download(superadmin_client)
    assert "$y$" not in text and not AuditEntry.objects.filter(action="exported").exists()
    _, text = download(superadmin_client, "?hashes=on")
    assert f"mailbox,alice@example.org,Alice Liddell,unlimited,yes,{mailbox.password_hash}," in text
    entry = AuditEntry.objects.get(action="exported")
    assert (entry.actor_name, entry.object_name, entry.changes) == (
        "admin root",
        "all domains",
        {"hashes": [None, True]},
    )
    response, text = download(domain_admin_client, "?hashes=on")
    assert response.status_code == 403 and not text
    assert AuditEntry.objects.filter(action="exported").count() == 1


def test_cells_that_start_like_formulas_are_neutralised(superadmin_client, domain, mailbox):
    actions.update_mailbox(mailbox, actor=COMMAND_LINE, display_name='=HYPERLINK("http://evil.example","x")')
    actions.create_mailbox(domain, "bob", "a good password 99", actor=COMMAND_LINE, display_name="-2+3")
    actions.create_mailbox(domain, "carol", "a good password 98", actor=COMMAND_LINE, display_name="@SUM(A1)")
    actions.create_alias(domain, "x", ["-minus@elsewhere.example", "a@b.example"], actor=COMMAND_LINE)
    _, text = download(superadmin_client)
    assert 'mailbox,alice@example.org,"\'=HYPERLINK(""http://evil.example"",""x"")",unlimited,yes,,' in text
    assert "mailbox,bob@example.org,'-2+3," in text
    assert "mailbox,carol@example.org,'@SUM(A1)," in text
    assert "alias,x@example.org,,,yes,,'-minus@elsewhere.example a@b.example" in text
    assert not [cell for line in text.splitlines() for cell in line.split(",") if cell[:1] in ("=", "+", "-", "@")]


def test_an_export_imports_back_unchanged(superadmin, superadmin_client, host, domain):
    actions.update_mailbox(host.mailboxes.get(), actor=COMMAND_LINE, display_name="=1+1", quota_mb=10300)
    actions.create_alias(domain, "x", ["-minus@elsewhere.example"], actor=COMMAND_LINE)
    _, text = download(superadmin_client, "?hashes=on")
    result = plan(read(text.encode()), superadmin)
    assert {(line.number, line.plan) for line in result.lines} == {(n, "unchanged") for n in range(2, 10)}
    _, without_hashes = download(superadmin_client)
    result = plan(read(without_hashes.encode()), superadmin)
    assert {line.plan for line in result.lines} == {"unchanged"}


@pytest.mark.parametrize(
    ("megabytes", "text"),
    [(0, "unlimited"), (1, "1M"), (1024, "1G"), (1536, "1536M"), (10300, "10300M"), (3 * 1024**2, "3T")],
)
def test_quotas_are_written_exactly(megabytes, text):
    assert exporting.exact_quota(megabytes) == text
