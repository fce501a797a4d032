"""The DNS page in real headless Chromium: create a DKIM key, check the records live, copy a value."""

import pytest
from playwright.sync_api import Page, expect

from accounts import actions
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.browser.test_admin_and_mailbox_flow import ADMIN_PASSWORD, sign_in
from tests.dns.nameserver import Nameserver, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_publishes_a_key_and_watches_the_checks_turn_ok(page: Page, live_server, settings, tmp_path):
    settings.DNS_PORT = settings.DNS_AUTHORITATIVE_PORT = free_port()
    settings.MAIL_HOSTNAME = "mail.example.org"
    settings.MAIL_PUBLIC_ADDRESSES = ["192.0.2.10"]
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    domain = create_domain("example.org", actor=COMMAND_LINE)

    sign_in(page, live_server.url, "root", ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/domains/example.org/")
    page.get_by_role("link", name="DNS records and DKIM").click()
    # The new domain's key exists, but signs only once its record is seen: the page says so.
    expect(page.get_by_text("Mail from example.org leaves unsigned.")).to_be_visible()
    selector = domain.dkim_keys.get().selector

    # The user publishes what the page shows: here, the zone file it offers, served by nsd.
    zone = page.request.get(f"{live_server.url}/domains/example.org/dns/zone/").text()
    server = Nameserver(tmp_path / "nsd", settings.DNS_PORT)
    server.add_zone("example.org", zone)
    server.add_zone("2.0.192.in-addr.arpa", "$TTL 3600\n10 IN PTR mail.example.org.\n")
    server.start()
    try:
        page.get_by_role("button", name="Check now").click()
        rows = page.locator("table.records tbody tr")
        expect(rows.filter(has_text=f"{selector}._domainkey")).to_contain_text("ok")
        expect(page.locator(".status-ok")).to_have_count(rows.count())  # every row filled in by its own request
    finally:
        server.stop()

    page.reload()  # the check saw the key published, so it signs now
    expect(page.get_by_text("leaves unsigned")).to_have_count(0)
    expect(page.locator("#dkim .badge.ok")).to_have_text("active")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("button[data-copy]").first.click()
    expect(page.locator("button[data-copy]").first).to_have_text("Copied")
