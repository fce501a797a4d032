"""Superadmins add domain admins and give them domains."""

from pytest_django.asserts import assertContains

from accounts.models import User
from audit.models import AuditEntry

NEW = {"username": "dana", "active": "on", "password1": "a good admin password", "password2": "a good admin password"}


def test_a_superadmin_adds_a_domain_admin_who_then_manages_only_that_domain(superadmin_client, domain, other_domain):
    response = superadmin_client.post("/admins/new/", NEW | {"domains": [domain.pk]})
    assert response.status_code == 302
    dana = User.objects.get(username="dana")
    assert not dana.is_superuser and list(dana.domains.all()) == [domain]
    from tests.helpers import client_for

    client = client_for(dana)
    assert client.get("/domains/example.org/").status_code == 200
    assert client.get("/domains/other.example/").status_code == 404
    assertContains(superadmin_client.get("/admins/"), "example.org")


def test_admin_names_cannot_look_like_mail_addresses(superadmin_client):
    assertContains(superadmin_client.post("/admins/new/", NEW | {"username": "dana@example.org"}), "cannot contain @")
    assertContains(superadmin_client.post("/admins/new/", NEW | {"username": "root"}), "already an admin called root")
    assert User.objects.count() == 1


def test_a_superadmin_cannot_demote_or_disable_themselves(superadmin_client, superadmin):
    response = superadmin_client.post(f"/admins/{superadmin.pk}/", {"active": "on"})
    assertContains(response, "You cannot take away your own superadmin rights")
    superadmin.refresh_from_db()
    assert superadmin.is_superuser


def test_changing_an_admins_domains_is_audited(superadmin_client, domain_admin, other_domain):
    superadmin_client.post(f"/admins/{domain_admin.pk}/", {"active": "on", "domains": [other_domain.pk]})
    entry = AuditEntry.objects.get(object_type="admin", action="updated")
    assert entry.changes == {"domains": [["example.org"], ["other.example"]]}


def test_the_admin_list_is_searchable(superadmin_client, domain_admin, other_domain_admin):
    page = superadmin_client.get("/admins/?q=do")
    assertContains(page, "dora")
    assert "otto" not in page.content.decode()
