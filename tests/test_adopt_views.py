"""The adoption pages: a superadmin uploads an archive of the host's files, reads the dry run, confirms."""

import io
import tarfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import actions as account_actions
from accounts.models import Mailbox
from adopt.models import Adoption
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains import dkim
from domains.actions import create_domain
from domains.models import Domain
from tests.test_adopt_reading import Y, guide_files


@pytest.fixture(autouse=True)
def _production_mail_host(settings):
    # The production defaults (/home/vmail, uid and gid 5000), even after the daemon tests'
    # lab has pointed MAIL_HOST at itself for the rest of the session.
    settings.MAIL_HOST = {}


def archive(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload(client: Client, data: bytes, **fields):
    file = io.BytesIO(data)
    file.name = "host.tgz"
    return client.post("/adopt/upload/", {"file": file, **fields})


def test_it_checks_the_archive_then_adopts_it_when_confirmed(superadmin_client, db):
    data = archive(guide_files())
    response = upload(superadmin_client, data)
    adoption = Adoption.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/adopt/{adoption.pk}/"
    assert adoption.state == Adoption.CHECKED
    assert dkim.decrypt(adoption.archive) == data  # kept encrypted until confirmed
    assert not Domain.objects.exists()
    page = superadmin_client.get(f"/adopt/{adoption.pk}/")
    assert b"will create" in page.content and b"alice@example.org" in page.content
    assert b"How the host will behave differently" in page.content and b"Adopt this host" in page.content
    assert Y.encode() not in page.content  # hashes never reach a page

    response = superadmin_client.post(f"/adopt/{adoption.pk}/confirm/")
    adoption.refresh_from_db()
    assert response.status_code == 302 and adoption.state == Adoption.ADOPTED and adoption.archive == ""
    assert adoption.results == {"created": 7, "changed": 0, "homes": 0, "keys": 1}
    assert Mailbox.objects.count() == 3
    assert AuditEntry.objects.filter(action="adopted", object_type="host", actor_name="admin root, adoption").exists()
    page = superadmin_client.get(f"/adopt/{adoption.pk}/")
    assert b"What was adopted" in page.content and b"Adopt this host" not in page.content


def test_an_archive_with_errors_is_refused_and_not_kept(superadmin_client, db):
    files = guide_files() | {"/etc/smtpd/passwds": f"alice@example.org {Y}\nprinter@example.org {Y}\n"}
    upload(superadmin_client, archive(files))
    adoption = Adoption.objects.get()
    assert adoption.state == Adoption.REFUSED and adoption.archive == ""
    page = superadmin_client.get(f"/adopt/{adoption.pk}/")
    assert b"What cannot be adopted, and why" in page.content
    assert b"signs in to OpenSMTPD but has no Dovecot user" in page.content
    superadmin_client.post(f"/adopt/{adoption.pk}/confirm/")
    assert not Domain.objects.exists()


def test_what_changed_since_the_dry_run_is_shown_again_not_written(superadmin_client, db):
    upload(superadmin_client, archive(guide_files()))
    adoption = Adoption.objects.get()
    domain = create_domain("example.net", actor=COMMAND_LINE)
    account_actions.create_mailbox(domain, "carol", "another password", actor=COMMAND_LINE)
    response = superadmin_client.post(f"/adopt/{adoption.pk}/confirm/", follow=True)
    assert b"The panel changed since this dry run" in response.content
    adoption.refresh_from_db()
    assert list(Domain.objects.values_list("name", flat=True)) == ["example.net"]  # nothing written
    # The new dry run: carol exists now, with another password, which adopting will change.
    carol = next(item for item in adoption.report["items"] if item["shown"] == "carol@example.net")
    assert (adoption.state, carol["plan"], carol["message"]) == (Adoption.CHECKED, "change", "password")
    superadmin_client.post(f"/adopt/{adoption.pk}/confirm/")
    assert Mailbox.objects.get(local_part="carol").password_hash.startswith("$5$")


@pytest.mark.parametrize(
    ("data", "fields", "status", "said"),
    [
        (b"not an archive", {}, 400, b"This is not a tar archive"),
        (archive(guide_files()), {"smtpd_conf": "etc/smtpd.conf"}, 400, b"Give the path as the host names it"),
        (archive({}), {}, 302, b""),  # read, and refused: nothing in it
    ],
)
def test_what_it_cannot_read_it_says(superadmin_client, db, data, fields, status, said):
    defaults = {"smtpd_conf": "/etc/smtpd.conf", "dovecot_conf": "/etc/dovecot/dovecot.conf"}
    response = upload(
        superadmin_client, data, **(defaults | {"dkim_signing": "/etc/rspamd/local.d/dkim_signing.conf"} | fields)
    )
    assert response.status_code == status and said in response.content
    if status == 302:
        assert Adoption.objects.get().state == Adoption.REFUSED


def test_a_too_large_archive_is_refused_unread(superadmin_client, db, monkeypatch):
    monkeypatch.setattr("adopt.views.MAX_UPLOAD", 1000)
    response = upload(superadmin_client, b"x" * 200_000)
    assert response.status_code == 413 and b"adopt such a host with manage.py adopt" in response.content
    assert not Adoption.objects.exists()


def test_cancelling_or_waiting_an_hour_wipes_the_archive(superadmin_client, db):
    upload(superadmin_client, archive(guide_files()))
    upload(superadmin_client, archive(guide_files()))
    first, second = Adoption.objects.order_by("pk")
    superadmin_client.post(f"/adopt/{first.pk}/cancel/")
    first.refresh_from_db()
    assert (first.state, first.archive) == (Adoption.CANCELLED, "")
    Adoption.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(hours=2))
    superadmin_client.get("/adopt/")
    second.refresh_from_db()
    assert (second.state, second.archive, second.error) == (Adoption.CANCELLED, "", "Not confirmed within an hour.")


def test_the_dashboard_links_superadmins_to_it(superadmin_client, domain_admin_client):
    assert b'href="/adopt/"' in superadmin_client.get("/").content
    assert b'href="/adopt/"' not in domain_admin_client.get("/").content
