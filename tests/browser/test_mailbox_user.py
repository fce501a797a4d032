"""A mailbox user, in real headless Chromium, sets an automatic reply and a forward and finds
the profile for their phone."""

import plistlib

import pytest
from playwright.sync_api import Page, expect

from accounts import actions
from accounts.models import Forwarding, Vacation
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.browser.test_admin_and_mailbox_flow import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_mailbox_user_sets_a_reply_and_a_forward(page: Page, live_server):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE, display_name="Alice")
    sign_in(page, live_server.url, "alice@example.org", "alice mail password")
    page.get_by_role("link", name="Automatic reply and forwarding").click()

    reply = page.locator("section", has=page.get_by_role("heading", name="Automatic reply"))
    reply.get_by_label("Send an automatic reply").check()
    reply.get_by_label("Subject").fill("Away until Monday")
    reply.get_by_label("Reply", exact=True).fill("I am away.\nBack on Monday.")
    reply.get_by_label("Until").fill("2027-01-05")
    reply.get_by_role("button", name="Save the reply").click()
    expect(page.get_by_text("Saved your automatic reply.")).to_be_visible()

    forwarding = page.locator("section", has=page.get_by_role("heading", name="Forwarding"))
    forwarding.get_by_label("Forward to").fill("alice@example.org")  # to herself: refused
    forwarding.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_text("comes back to this mailbox")).to_be_visible()
    forwarding = page.locator("section", has=page.get_by_role("heading", name="Forwarding"))
    forwarding.get_by_label("Forward to").fill("alice@elsewhere.example")
    forwarding.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_text("Saved your forwarding.")).to_be_visible()

    vacation = Vacation.objects.get()
    assert vacation.enabled and vacation.subject == "Away until Monday" and str(vacation.end) == "2027-01-05"
    assert Forwarding.objects.get().destinations == ["alice@elsewhere.example"]

    page.get_by_role("link", name="alice@example.org").first.click() if page.get_by_role(
        "link", name="alice@example.org"
    ).count() else page.goto(f"{live_server.url}/account/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Set up an iPhone, iPad or Mac").click()
    profile = plistlib.loads(open(download.value.path(), "rb").read())
    assert profile["PayloadContent"][0]["EmailAddress"] == "alice@example.org"
