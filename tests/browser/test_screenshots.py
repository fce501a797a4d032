"""The pages the README shows, walked in real headless Chromium at 1200x800: a mailbox user's
account page, their automatic reply and forwarding filled in, and an admin's domain page.

Every run checks that the pages render; with MAILADMIN_SCREENSHOTS=1 (scripts/screenshots sets
it) the walk also writes docs/screenshots/*.png for the README."""

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import actions
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from export.apply import apply_pending
from tests.browser.test_admin_and_mailbox_flow import ADMIN_PASSWORD, sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "docs/screenshots"
WRITE = os.environ.get("MAILADMIN_SCREENSHOTS") == "1"
ALICE = "alice mail password"


@pytest.fixture
def small_page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    if WRITE:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=path, animations="disabled", caret="hide")
        assert path.stat().st_size < 150_000, f"{path} is {path.stat().st_size} bytes: keep README images small"


def seed_usage(mailbox: Mailbox, used_bytes: int) -> None:
    """What Dovecot would have measured, for the usage bars in the pictures (on a real host the
    panel copies it from Dovecot's files)."""
    permille = used_bytes * 1000 // (mailbox.quota_mb * 1024 * 1024)
    last_login = timezone.now() - timedelta(hours=len(mailbox.local_part))
    Mailbox.objects.filter(pk=mailbox.pk).update(
        used_bytes=used_bytes, fill_permille=permille, last_login_at=last_login
    )


def test_the_pages_the_readme_shows(small_page: Page, live_server, sandbox_helper):
    page, base = small_page, live_server.url
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    domain = create_domain("example.org", actor=COMMAND_LINE, default_quota_mb=2048)
    people = [
        ("alice", "Alice Liddell", 2048, 0.41),
        ("bob", "Bob Cratchit", 5120, 0.93),
        ("carol", "Carol Singer", 1024, 0.12),
    ]
    for local_part, name, quota, fill in people:
        mailbox = actions.create_mailbox(
            domain,
            local_part,
            ALICE if local_part == "alice" else "a mail password 1",
            actor=COMMAND_LINE,
            display_name=name,
            quota_mb=quota,
        )
        seed_usage(mailbox, int(fill * quota * 1024 * 1024))
    actions.create_mailbox(
        domain, "intern", "a mail password 1", actor=COMMAND_LINE, display_name="Intern", active=False
    )
    actions.create_alias(domain, "sales", ["alice@example.org", "bob@example.org"], actor=COMMAND_LINE)
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    assert apply_pending(force=True, requested_by="test").ok  # the status line says "Applied generation …"

    sign_in(page, base, "alice@example.org", ALICE)
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    expect(page.get_by_role("link", name="Set up an iPhone, iPad or Mac")).to_be_visible()
    shot(page, "account")

    page.get_by_role("link", name="Automatic reply and forwarding").click()
    today = date.today()
    reply = page.locator("section", has=page.get_by_role("heading", name="Automatic reply"))
    reply.get_by_label("Send an automatic reply").check()
    reply.get_by_label("Subject").fill("On holiday until the 20th")
    reply.get_by_label("Reply", exact=True).fill(
        "Thank you for your message. I am on holiday and read mail again on the 20th.\n"
        "For orders, please write to sales@example.org.\n\nAlice"
    )
    reply.get_by_label("From", exact=True).fill(today.isoformat())
    reply.get_by_label("Until", exact=True).fill((today + timedelta(days=14)).isoformat())
    reply.get_by_role("button", name="Save the reply").click()
    expect(page.get_by_text("Saved your automatic reply.")).to_be_visible()
    forwarding = page.locator("section", has=page.get_by_role("heading", name="Forwarding"))
    forwarding.get_by_label("Forward to").fill("alice.liddell@elsewhere.example")
    forwarding.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_text("Saved your forwarding.")).to_be_visible()
    expect(page.get_by_label("Subject")).to_have_value("On holiday until the 20th")
    expect(page.get_by_label("Forward to")).to_have_value("alice.liddell@elsewhere.example")
    assert apply_pending(force=True, requested_by="test").ok
    page.reload()
    shot(page, "vacation-and-forwarding")
    sign_out(page)

    sign_in(page, base, "root", ADMIN_PASSWORD)
    page.get_by_role("link", name="example.org").click()
    rows = page.locator("#mailboxes tbody tr")
    expect(rows).to_have_count(4)
    expect(page.get_by_role("cell", name="bob@example.org", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="sales@example.org", exact=True)).to_be_visible()
    shot(page, "domain")
