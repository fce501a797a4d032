"""The whole flow in real headless Chromium: admin adds a domain and a mailbox, the mailbox user
changes their password, and the admin's audit page shows all of it."""

import pytest
from playwright.sync_api import Page, expect

from accounts import actions
from audit.log import COMMAND_LINE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "correct horse battery staple"


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email address or admin name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_admin_adds_domain_and_mailbox_user_changes_password(page: Page, live_server):
    base = live_server.url
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)

    sign_in(page, base, "root", ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Domains")).to_be_visible()
    page.get_by_text("Add a domain").click()
    page.get_by_label("Domain name").fill("Bücher.example")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_text("Added bücher.example.")).to_be_visible()  # swapped in by htmx

    page.get_by_role("link", name="bücher.example").click()
    mailboxes = page.locator("#mailboxes")
    mailboxes.get_by_text("Add a mailbox").click()
    mailboxes.get_by_label("Address").fill("alice")
    mailboxes.get_by_label("Display name").fill("Alice")
    mailboxes.get_by_label("Quota").fill("2G")
    mailboxes.get_by_label("Password", exact=True).fill("first mail password")
    mailboxes.get_by_label("Password again").fill("first mail password")
    mailboxes.get_by_role("button", name="Add mailbox").click()
    expect(page.get_by_role("cell", name="alice@bücher.example")).to_be_visible()
    expect(page.get_by_role("cell", name="2G")).to_be_visible()
    sign_out(page)

    sign_in(page, base, "alice@bücher.example", "first mail password")
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    page.get_by_label("Current password").fill("first mail password")
    page.get_by_label("New password", exact=True).fill("second mail password")
    page.get_by_label("New password again").fill("second mail password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    sign_out(page)

    sign_in(page, base, "alice@bücher.example", "first mail password")
    expect(page.get_by_text("The name or password is wrong")).to_be_visible()
    sign_in(page, base, "alice@bücher.example", "second mail password")
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    sign_out(page)

    sign_in(page, base, "root", ADMIN_PASSWORD)
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("#entries tbody tr")
    expect(rows.nth(0)).to_contain_text("mailbox alice@bücher.example")
    expect(rows.nth(0)).to_contain_text("changed password")
    expect(rows.nth(1)).to_contain_text("admin root")
    expect(rows.nth(1)).to_contain_text("created mailbox alice@bücher.example")
    expect(rows.nth(2)).to_contain_text("created DKIM key 202")  # every new domain gets its key
    expect(rows.nth(3)).to_contain_text("created domain bücher.example")


def test_admin_edits_disables_and_deletes_inline(page: Page, live_server):
    base = live_server.url
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    from domains.actions import create_domain

    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "bob", "bob mail password", actor=COMMAND_LINE)

    sign_in(page, base, "root", ADMIN_PASSWORD)
    page.goto(f"{base}/domains/example.org/")
    row = page.locator("#mailbox-results tbody tr").first
    row.get_by_role("link", name="Edit").click()
    editing = page.locator("tr.editing")
    editing.get_by_label("Display name").fill("Bob the Builder")
    editing.get_by_label("Quota").fill("lots")
    editing.get_by_role("button", name="Save").click()
    expect(editing.get_by_text("Enter a size such as 500M")).to_be_visible()
    editing.get_by_label("Quota").fill("500M")
    editing.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="Bob the Builder")).to_be_visible()
    assert page.url == f"{base}/domains/example.org/"  # all of it inline, no page load

    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#mailbox-results").get_by_text("disabled")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Delete").first.click()
    expect(page.locator("#mailbox-results tbody tr")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("No mailboxes yet.")).to_be_visible()


def test_search_as_you_type(page: Page, live_server):
    from accounts.management.commands.loaddemo import load_demo

    load_demo(mailboxes=120, domains=1)
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    sign_in(page, live_server.url, "root", ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/domains/demo000.example/")
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    page.get_by_label("Search mailboxes").press_sequentially("user00011")
    expect(page.locator("#mailbox-results tbody tr")).to_have_count(10)
    expect(page.get_by_text("Page 1 of 3")).to_be_hidden()
