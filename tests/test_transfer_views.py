"""The import and export pages: upload, dry run, confirm, progress, result, as an admin sees them."""

import time

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from accounts import mailpasswords
from accounts.models import Mailbox
from tests.helpers import HTMX, client_for
from transfer import csvformat
from transfer.models import ImportJob, ImportLine

HEADER = "type,address,name,quota,active,password,destinations"
SECRET = "the plain text 4 bob"


def upload(client: Client, text: str | bytes, name: str = "people.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = text.encode() if isinstance(text, str) else text
    return client.post("/csv/import/", {"file": SimpleUploadedFile(name, data, "text/csv")})


def wait_for(job_id: int, *states: str, seconds: float = 30) -> ImportJob:
    deadline = time.monotonic() + seconds
    while (job := ImportJob.objects.get(pk=job_id)).state not in states:
        assert time.monotonic() < deadline, f"the import is still {job.state}"
        time.sleep(0.05)
    return job


def test_the_page_offers_export_and_import(domain_admin_client, superadmin_client, domain):
    response = domain_admin_client.get("/csv/?domain=example.org")
    assertContains(response, '<option value="example.org" selected>example.org</option>', html=True)
    assertNotContains(response, "With password hashes")
    assertContains(superadmin_client.get("/csv/"), "With password hashes")
    assertContains(response, "No imports yet.")


def test_the_dashboard_links_to_it(domain_admin_client, domain):
    assertContains(domain_admin_client.get("/"), 'href="/csv/"')


@pytest.mark.django_db(transaction=True)
def test_an_import_is_checked_confirmed_hashed_and_written_in_the_background(superadmin, domain):
    client = client_for(superadmin)
    response = upload(
        client, f"{HEADER}\nmailbox,bob@example.org,Bob,1G,yes,{SECRET},\nalias,info@example.org,,,,,bob@example.org\n"
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/csv/import/{job.pk}/"
    page = client.get(f"/csv/import/{job.pk}/")
    assertContains(page, "Dry run: what each line will do")
    assertContains(page, '<td class="address">bob@example.org</td>', html=True)
    assertContains(page, "<td>will create</td>", html=True, count=2)
    assertContains(page, "Import 2 lines")
    assert not Mailbox.objects.exists()  # nothing until confirmed
    job = wait_for(job.pk, ImportJob.READY)
    assert job.hashed == 1
    assert client.post(f"/csv/import/{job.pk}/confirm/").status_code == 302
    job = wait_for(job.pk, ImportJob.DONE)
    assert job.results == {"created": 2}
    assert mailpasswords.check_hash(SECRET, Mailbox.objects.get().password_hash)
    page = client.get(f"/csv/import/{job.pk}/")  # the result stays, reload after reload
    assertContains(page, "Imported: 2 created, 0 changed, 0 unchanged.")
    assertContains(page, "What each line did")
    assertContains(client.get("/csv/"), f'<a href="/csv/import/{job.pk}/">', count=1)


@pytest.mark.django_db(transaction=True)
def test_confirming_while_hashing_writes_as_soon_as_the_hashes_are_done(superadmin, domain):
    client = client_for(superadmin)
    lines = "".join(f"mailbox,user{n}@example.org,,,,{SECRET} {n},\n" for n in range(20))
    upload(client, f"{HEADER}\n{lines}")
    job = ImportJob.objects.get()
    client.post(f"/csv/import/{job.pk}/confirm/")
    job = wait_for(job.pk, ImportJob.DONE)
    assert job.results == {"created": 20} and job.confirmed


def test_the_progress_is_polled_until_the_state_changes(superadmin, superadmin_client, domain):
    job = ImportJob.objects.create(
        owner=superadmin, actor_name="admin root, CSV import", state=ImportJob.WRITING, to_write=10, written=4
    )
    page = superadmin_client.get(f"/csv/import/{job.pk}/")
    assertContains(page, f'hx-get="/csv/import/{job.pk}/?state=writing" hx-trigger="every 1s"')
    poll = superadmin_client.get(f"/csv/import/{job.pk}/?state=writing", **HTMX, HTTP_HX_TARGET="progress")
    assertContains(poll, '<progress id="write-progress" max="10" value="4">4 of 10</progress>', html=True)
    assertNotContains(poll, "<h1>")
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.DONE, written=10)
    poll = superadmin_client.get(f"/csv/import/{job.pk}/?state=writing", **HTMX, HTTP_HX_TARGET="progress")
    assert poll["HX-Refresh"] == "true"
    assertNotContains(superadmin_client.get(f"/csv/import/{job.pk}/"), "hx-trigger")  # done: no more polling


def test_a_file_with_errors_shows_every_error_and_offers_no_import(superadmin_client, domain):
    response = upload(
        superadmin_client,
        f"{HEADER}\nmailbox,bob@example.org,,,,{SECRET},\nmailbox,a b@example.org,,,,x,\nfolder,x,,,,,\nmailbox,<b>c</b>@example.org,,,,y,\n",
    )
    job = ImportJob.objects.get()
    assert job.state == ImportJob.REFUSED
    page = superadmin_client.get(response["Location"])
    assertContains(page, "3 lines with errors: nothing was written. Fix them and upload the file again.")
    assertContains(page, "error: “a b@example.org”: The part before the @ cannot contain a space")
    assertContains(page, "the type must be domain, mailbox or alias, not “folder”")
    assertContains(page, "&lt;b&gt;c&lt;/b&gt;@example.org")  # escaped, never markup
    assertNotContains(page, "<b>c</b>")
    assertNotContains(page, "Import 4 lines")
    assertContains(page, 'id="line-3"')
    assertNotContains(page, 'id="line-2"')  # errors first, alone; the rest on "All lines"
    assertContains(page, '<a href="?show=all">All lines (4)</a>')
    assert superadmin_client.post(f"/csv/import/{job.pk}/confirm/").status_code == 302
    assert not Mailbox.objects.exists()


def test_a_file_that_cannot_be_read_is_refused_on_the_page(superadmin_client, domain):
    response = upload(superadmin_client, "type,address\nmailbox,zoë@example.org\n".encode("latin-1"))
    assert response.status_code == 400
    assertContains(response, "The file is not UTF-8 text: line 2 has the byte 0xEB", status_code=400)
    assert not ImportJob.objects.exists()
    response = superadmin_client.post("/csv/import/", {})
    assertContains(response, "Choose a CSV file to import.", status_code=400)


def test_a_file_too_large_is_refused_and_never_written_to_disk(superadmin_client, domain, settings, tmp_path):
    # Django would stream an upload this size to a temporary file; the import view never does.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    big = f"{HEADER}\n" + "".join(f"mailbox,user{n}@example.org,,,,{SECRET} {n},\n" for n in range(200))
    response = upload(superadmin_client, big)
    assert response.status_code == 302 and ImportJob.objects.get().planned == {"create": 200}
    assert list(tmp_path.iterdir()) == []
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    response = upload(superadmin_client, b"x" * (csvformat.MAX_BYTES + 10))
    assertContains(response, "The file is larger than 8.4 MB. Split it into smaller files.", status_code=413)
    assert list(tmp_path.iterdir()) == [] and ImportJob.objects.count() == 1


def test_the_upload_needs_the_csrf_token(superadmin, domain):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superadmin)
    assert upload(client, f"{HEADER}\n").status_code == 403


def test_someone_elses_import_is_not_found(domain_admin_client, other_domain_admin_client, superadmin_client, domain):
    upload(domain_admin_client, f"{HEADER}\nmailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},\n")
    job = ImportJob.objects.get()
    assert other_domain_admin_client.get(f"/csv/import/{job.pk}/").status_code == 404
    assert other_domain_admin_client.post(f"/csv/import/{job.pk}/confirm/").status_code == 404
    assert other_domain_admin_client.post(f"/csv/import/{job.pk}/cancel/").status_code == 404
    assertNotContains(other_domain_admin_client.get("/csv/"), f"/csv/import/{job.pk}/")
    assert superadmin_client.get(f"/csv/import/{job.pk}/").status_code == 200


def test_cancel_before_confirming(superadmin_client, domain):
    upload(superadmin_client, f"{HEADER}\nmailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},\n")
    job = ImportJob.objects.get()
    response = superadmin_client.post(f"/csv/import/{job.pk}/cancel/", follow=True)
    assertContains(response, "Cancelled: nothing more is written, and the password hashes are wiped.")
    assert ImportJob.objects.get().state == ImportJob.CANCELLED
    assert not ImportLine.objects.exclude(password_hash="").exists()
    response = superadmin_client.post(f"/csv/import/{job.pk}/confirm/", follow=True)
    assertContains(response, "This import is cancelled: there is nothing to confirm.")
    assert not Mailbox.objects.exists()


def test_an_interrupted_import_offers_to_continue(superadmin, superadmin_client, domain):
    upload(
        superadmin_client,
        f"{HEADER}\nmailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},\nmailbox,carol@example.org,,,,{mailpasswords.DUMMY_HASH},\n",
    )
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.INTERRUPTED, confirmed=True, written=1)
    page = superadmin_client.get(f"/csv/import/{job.pk}/")
    assertContains(page, "Interrupted after 1 of 2 lines. The lines written so far are imported; lines 3 are not.")
    assertContains(page, "Continue with lines 3")
    assertContains(page, "Stop here")
