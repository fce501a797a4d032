"""CSV import in real headless Chromium: a file with errors, its dry run, the fixed file, the
confirmation, and the progress bar polled (htmx) until the import is done."""

import pytest
from playwright.sync_api import Page, expect

from accounts import actions, mailpasswords
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.browser.test_admin_and_mailbox_flow import ADMIN_PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "type,address,name,quota,active,password,destinations"
PEOPLE = 60  # plain-text passwords: hashing them takes a few seconds, long enough to watch


def people_csv(*, broken: bool) -> dict:
    lines = [HEADER, "alias,team@example.org,,,yes,,person0@example.org person1@example.org"]
    lines += [f"mailbox,person{n}@example.org,Person {n},1G,yes,password of person {n} xyz,," for n in range(PEOPLE)]
    if broken:
        lines[5] = "mailbox,person 3@example.org,Person 3,1G,yes,password of person 3 xyz,"
        lines[7] = "mailbox,person5@example.org,Person 5,lots,yes,short,"
        lines.append("alias,sales@example.org,,,yes,,nobody@example.org")
    return {"name": "people.csv", "mimeType": "text/csv", "buffer": ("\n".join(lines) + "\n").encode()}


def test_an_admin_fixes_a_file_imports_it_and_watches_it_finish(page: Page, live_server):
    base = live_server.url
    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_admin("dora", ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=False, domains=[domain])
    sign_in(page, base, "dora", ADMIN_PASSWORD)
    page.get_by_role("link", name="Import or export as CSV").click()

    page.get_by_label("CSV file").set_input_files(people_csv(broken=True))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("3 lines with errors: nothing was written.")).to_be_visible()
    errors = page.locator("#lines tbody tr")
    expect(errors).to_have_count(3)
    expect(errors.nth(0).locator("td").first).to_have_text("6")  # the line of the file
    expect(errors.nth(0)).to_contain_text("The part before the @ cannot contain a space")
    expect(errors.nth(1).locator("td").first).to_have_text("8")
    expect(errors.nth(1)).to_contain_text("quota: Enter a size such as 500M")
    expect(errors.nth(1)).to_contain_text("password: This password is too short.")
    expect(errors.nth(2)).to_contain_text("nobody@example.org is neither a mailbox nor an alias here")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    assert not Mailbox.objects.exists()

    page.get_by_role("link", name="Upload the fixed file").click()
    page.get_by_label("CSV file").set_input_files(people_csv(broken=False))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Dry run: what each line will do")).to_be_visible()
    expect(page.locator("#lines tbody tr").first).to_contain_text("will create")
    assert not Mailbox.objects.exists()  # the dry run wrote nothing

    page.get_by_role("button", name=f"Import {PEOPLE + 1} lines").click()
    progress = page.locator("#progress progress")
    expect(progress).to_be_visible()  # hashing, then writing, polled every second
    seen = progress.get_attribute("value")
    expect(progress).not_to_have_attribute("value", seen)  # it moves
    # Each poll swaps the bar without taking the focus (or scrolling the page to it).
    assert page.evaluate("document.activeElement === document.body")
    expect(page.get_by_text(f"Imported: {PEOPLE + 1} created, 0 changed, 0 unchanged.")).to_be_visible(timeout=60_000)
    expect(progress).to_have_attribute("value", str(PEOPLE + 1))
    expect(progress).to_have_attribute("max", str(PEOPLE + 1))
    assert int(seen) < PEOPLE + 1  # the bar was seen before it was full
    page.reload()  # the result stays
    expect(page.get_by_text(f"Done: {PEOPLE + 1} of {PEOPLE + 1} lines")).to_be_visible()
    expect(page.locator("#lines tbody tr").first).to_contain_text("created")

    person = Mailbox.objects.get(local_part="person7")
    assert mailpasswords.check_hash("password of person 7 xyz", person.password_hash)
    assert Mailbox.objects.count() == PEOPLE
