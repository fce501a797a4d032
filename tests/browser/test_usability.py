"""What a person notices in the browser: nothing widens a phone's screen, the keyboard focus stays
where they were after an inline save, a save says so until the next change, and "Apply now"
answers even when the helper hangs."""

import socket
import threading

import pytest
from playwright.sync_api import Page, expect

from accounts import actions
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.browser.test_admin_and_mailbox_flow import ADMIN_PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_LOCAL = "a" * 30 + "." + "b" * 33  # 64 characters, the most a local part may have
LONG_DOMAIN = "a-rather-long-subdomain-name-for-testing." + "very-long-organisation-name-example.example"


def test_nothing_widens_a_390_pixel_screen(browser, live_server):
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    domain = create_domain(LONG_DOMAIN, actor=COMMAND_LINE)
    actions.create_mailbox(domain, LONG_LOCAL, "a long mailbox password", actor=COMMAND_LINE)
    actions.create_alias(
        domain, "team", [f"{LONG_LOCAL}@{LONG_DOMAIN}", "x" * 60 + "@elsewhere.example"], actor=COMMAND_LINE
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "root", ADMIN_PASSWORD)
        for path in [
            "/",
            f"/domains/{LONG_DOMAIN}/",
            f"/domains/{LONG_DOMAIN}/dns/",
            "/audit/",
            "/config/",
            "/postmaster/",
        ]:
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide"
    finally:
        context.close()


def test_an_inline_save_keeps_the_focus_on_its_row_and_says_saved(page: Page, live_server):
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    domain = create_domain("example.org", actor=COMMAND_LINE)
    mailbox = actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE)
    sign_in(page, live_server.url, "root", ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/domains/example.org/")
    row = page.locator(f"#mailbox-{mailbox.pk}")
    row.get_by_role("link", name="Edit").click()
    editing = page.locator(f"#mailbox-{mailbox.pk}.editing")
    expect(editing).to_be_visible()
    assert page.evaluate("document.activeElement.closest('tr')?.id") == f"mailbox-{mailbox.pk}"
    editing.get_by_label("Display name").fill("Alice Liddell")
    editing.get_by_role("button", name="Save").click()
    saved = page.locator(f"#mailbox-{mailbox.pk}.saved")
    expect(saved).to_contain_text("Alice Liddell")
    assert page.evaluate("document.activeElement.closest('tr')?.id") == f"mailbox-{mailbox.pk}"
    page.wait_for_timeout(2000)  # longer than the highlight lasts
    expect(saved.get_by_role("status")).to_have_text("Saved")


@pytest.fixture
def hung_helper(tmp_path):
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "hung.sock"))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    yield tmp_path / "hung.sock"
    listener.close()


def test_apply_now_shows_it_is_working_and_reports_a_hung_helper(
    page: Page, live_server, settings, tmp_path, hung_helper, monkeypatch
):
    from export import views

    monkeypatch.setattr(views, "APPLY_NOW_TIMEOUT", 2)
    settings.HELPER_SOCKET = hung_helper
    settings.STAGING_DIR = tmp_path / "staging"
    actions.create_admin("root", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    sign_in(page, live_server.url, "root", ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/config/")
    page.get_by_role("button", name="Apply now").click()
    expect(page.get_by_text("Applying… the helper checks the files")).to_be_visible()
    expect(page.get_by_role("button", name="Apply now")).to_be_disabled()
    expect(page.locator(".message.error")).to_contain_text("the helper did not answer within 2 s", timeout=15_000)
