"""The dry run: every line judged as the actions will judge it, every error at once, nothing written."""

import pytest

from accounts import actions
from accounts.mailpasswords import make_hash
from accounts.models import Alias, Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.actions import create_domain
from domains.models import Domain
from export.models import Change
from transfer.csvformat import read
from transfer.plan import plan

HEADER = "type,address,name,quota,active,password,destinations"
GOOD = "a good mail password 7"


def dry_run(user, *lines: str):
    result = plan(read("\n".join([HEADER, *lines]).encode()), user)
    return result, {line.number: (line.plan, line.message) for line in result.lines}


def test_it_says_what_each_line_will_do(superadmin, domain, mailbox):
    actions.create_alias(domain, "info", ["alice@example.org"], actor=COMMAND_LINE)
    result, lines = dry_run(
        superadmin,
        "domain,example.org,,,yes,,",
        "domain,new.example,,2G,yes,,",
        f"mailbox,bob@example.org,Bob,1G,yes,{GOOD},",
        "mailbox,alice@example.org,Alice Liddell,5G,,,",
        "mailbox,Alice@Example.org,Alice Liddell,,,,",
        "alias,info@example.org,,,yes,,alice@example.org bob@example.org",
        "alias,*@new.example,,,,,alice@example.org",
    )
    assert lines[2] == ("unchanged", "")
    assert lines[3] == ("create", "")
    assert lines[4] == ("create", "")
    assert lines[5] == ("change", "quota unlimited → 5G")
    assert lines[6] == ("error", "alice@example.org is on line 5 already")
    assert lines[7] == ("change", "destinations alice@example.org bob@example.org")
    assert lines[8] == ("create", "")
    assert result.counts == {"unchanged": 1, "create": 3, "change": 2, "error": 1}


def test_it_writes_nothing(superadmin, domain, mailbox):
    before = (Mailbox.objects.count(), Alias.objects.count(), Domain.objects.count(), AuditEntry.objects.count())
    changes = Change.objects.count()
    dry_run(
        superadmin, "domain,new.example,,,,,", f"mailbox,bob@example.org,,,,{GOOD},", "mailbox,alice@example.org,New"
    )
    after = (Mailbox.objects.count(), Alias.objects.count(), Domain.objects.count(), AuditEntry.objects.count())
    assert before == after and Change.objects.count() == changes


def test_it_finds_every_error_at_once_with_its_line(superadmin, domain):
    _, lines = dry_run(
        superadmin,
        "mailbox,a:b@example.org,,,,x,",
        "mailbox,bob@example.org,,lots,maybe,,",
        "folder,x@example.org,,,,,",
        "mailbox,carol@nowhere.example,,,,a good mail password,",
        "alias,info@example.org,,,,,",
        "alias,info2@example.org,,,,,info2@example.org",
        "mailbox,dave@example.org,Dave,,,short,",
        ",,,,,,",
        "domain,bad..example,,,,,",
        "mailbox,erin@example.org,Erin,1G,yes,a good mail password,alice@example.org",
    )
    assert (
        lines[2][1]
        == "“a:b@example.org”: The part before the @ cannot contain “:”: use letters a–z, digits, “.”, “-” and “_”.; "
        "password: This password is too short. It must contain at least 10 characters. This password is too common."
    )
    assert lines[3][1] == (
        "quota: Enter a size such as 500M, 2G or 1.5T, or 0 for unlimited.; active must be yes or no, not “maybe”"
    )
    assert lines[4][1] == "the type must be domain, mailbox or alias, not “folder”"
    assert lines[5][1] == "nowhere.example is not a domain here: add a line for it first."
    assert lines[6][1] == "Enter at least one destination address."
    assert lines[7][1] == "An alias cannot deliver to itself."
    assert lines[8][1].startswith("password: This password is too short.")
    assert 9 not in lines  # a blank line
    assert lines[10][1] == "A domain name cannot contain two dots in a row."
    assert "a mailbox has no destinations" in lines[11][1]
    assert lines[3][0] == "error"  # a new mailbox with nothing wrong but no password
    assert all(plan == "error" for plan, _ in lines.values())


def test_a_new_mailbox_needs_a_password(superadmin, domain):
    _, lines = dry_run(superadmin, "mailbox,bob@example.org,Bob,,,,")
    assert lines[2] == ("error", "a new mailbox needs a password: in plain text, or a crypt(3) hash")


def test_plain_text_passwords_meet_the_mailbox_forms_rules_and_are_never_echoed(superadmin, domain):
    result, lines = dry_run(
        superadmin,
        "mailbox,bob@example.org,Bob,,,password123,",
        "mailbox,carol@example.org,Carol Smith,,,carolsmith1,",
        "mailbox,dave@example.org,,,,1234567890123,",
        "mailbox,erin@example.org,,,,tab\there is bad,",
    )
    assert lines[2] == ("error", "password: This password is too common.")
    assert "too similar to the" in lines[3][1]
    assert "entirely numeric" in lines[4][1]
    assert lines[5] == ("error", "password: This cannot contain a tab.")
    assert result.plain_texts == {}
    for line in result.lines:
        assert "password123" not in line.message and "1234567890123" not in line.message


def test_plain_texts_are_kept_apart_from_the_lines(superadmin, domain):
    hashed = make_hash("a kept password")
    result, _ = dry_run(superadmin, f"mailbox,bob@example.org,,,,{GOOD},", f"mailbox,carol@example.org,,,,{hashed},")
    assert result.plain_texts == {2: GOOD}
    bob, carol = result.lines
    assert (bob.password, bob.password_hash) == ("plain", "")
    assert (carol.password, carol.password_hash) == ("hash", hashed)
    assert GOOD not in repr(result) and all(GOOD not in repr(vars(line)) for line in result.lines)


def test_with_an_error_anywhere_no_plain_text_is_handed_on(superadmin, domain):
    result, _ = dry_run(superadmin, f"mailbox,bob@example.org,,,,{GOOD},", "mailbox,bad:one@example.org,,,,x,")
    assert result.plain_texts == {}


def test_a_password_for_an_existing_mailbox_is_a_change_unless_it_is_the_same_hash(superadmin, mailbox):
    _, lines = dry_run(
        superadmin,
        f"mailbox,alice@example.org,,,,{mailbox.password_hash},",
    )
    assert lines[2] == ("unchanged", "")
    _, lines = dry_run(superadmin, f"mailbox,alice@example.org,,,,{GOOD},")
    assert lines[2] == ("change", "password")


def test_an_address_belongs_to_a_mailbox_or_an_alias(superadmin, domain, mailbox):
    actions.create_alias(domain, "info", ["alice@example.org"], actor=COMMAND_LINE)
    _, lines = dry_run(
        superadmin,
        f"mailbox,info@example.org,,,,{GOOD},",
        "alias,alice@example.org,,,,,info@example.org",
        "mailbox,bob@example.org,,,,a good mail password,",
        "alias,bob@example.org,,,,,alice@example.org",
    )
    assert lines[2][1] == "info@example.org is already an alias."
    assert lines[3][1] == "alice@example.org is already a mailbox."
    assert lines[5][1] == "bob@example.org is on line 4 already"


def test_an_alias_domain_takes_no_addresses_of_its_own(superadmin, domain):
    create_domain("alias.example", actor=COMMAND_LINE, alias_of=domain)
    _, lines = dry_run(superadmin, f"mailbox,bob@alias.example,,,,{GOOD},", "domain,twin.example,,,,,example.org")
    assert lines[2][1] == "alias.example delivers as example.org; add addresses there instead."
    assert lines[3] == ("create", "")


def test_alias_domain_lines_are_checked_as_the_domain_form_does(superadmin, domain, mailbox):
    create_domain("alias.example", actor=COMMAND_LINE, alias_of=domain)
    _, lines = dry_run(
        superadmin,
        "domain,a.example,,,,,a.example",
        "domain,b.example,,,,,alias.example",
        "domain,example.org,,,,,other.example",
        "domain,other.example,,,,,",
        "domain,c.example,,,,,nowhere.example",
    )
    assert lines[2][1] == "A domain cannot be an alias of itself."
    assert lines[3][1] == "alias.example is itself an alias domain; choose the domain it delivers as."
    assert lines[4][1] == "Other domains deliver as example.org; it cannot become an alias itself."
    assert lines[5] == ("create", "")
    assert lines[6][1] == "nowhere.example is not a domain here: add a line for it first."


def test_lines_in_a_domain_whose_own_line_has_an_error_say_so(superadmin):
    _, lines = dry_run(superadmin, "domain,new.example,,lots,,,", f"mailbox,bob@new.example,,,,{GOOD},")
    assert lines[3][1] == "the line for its domain new.example (line 2) has an error"


def test_aliases_may_deliver_to_what_the_file_adds_in_any_order(superadmin, domain):
    result, lines = dry_run(
        superadmin,
        "alias,team@example.org,,,,,info@example.org sales@example.org",
        "alias,info@example.org,,,,,bob@example.org",
        "alias,sales@example.org,,,,,bob@example.org someone@elsewhere.example",
        f"mailbox,bob@example.org,Bob,,,{GOOD},",
    )
    assert {plan for plan, _ in lines.values()} == {"create"}
    order = sorted(result.lines, key=lambda line: line.order)
    assert [line.address for line in order] == [
        "bob@example.org",
        "info@example.org",
        "sales@example.org",
        "team@example.org",
    ]


def test_alias_destinations_must_exist_and_must_not_loop(superadmin, domain, mailbox):
    _, lines = dry_run(
        superadmin,
        "alias,a@example.org,,,,,b@example.org",
        "alias,b@example.org,,,,,a@example.org",
        "alias,c@example.org,,,,,typo@example.org",
        "alias,d@example.org,,,no,,typo@example.org",
        "alias,e@example.org,,,,,alice@example.org anyone@elsewhere.example",
    )
    assert lines[2][1] == "With these destinations this alias is part of a loop."
    assert lines[3][1] == "With these destinations this alias is part of a loop."
    assert (
        lines[4][1] == "typo@example.org is neither a mailbox nor an alias here: add it first, or check the spelling."
    )
    assert lines[5] == ("create", "")  # a disabled alias is not checked, as in the form
    assert lines[6] == ("create", "")


def test_an_alias_chain_deeper_than_opensmtpd_expands_is_refused(superadmin, mailbox):
    chain = [f"alias,a{n}@example.org,,,,,a{n + 1}@example.org" for n in range(8)] + [
        "alias,a8@example.org,,,,,alice@example.org"
    ]
    _, lines = dry_run(superadmin, *chain)
    assert lines[2][1] == "With these destinations this alias would expand 10 levels deep; OpenSMTPD stops at 9."
    assert all(plan == "create" for plan, _ in list(lines.values())[1:])


def test_disabling_the_postmaster_mailbox_is_refused(superadmin, mailbox):
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    _, lines = dry_run(superadmin, "mailbox,alice@example.org,,,no,,")
    assert "receives the host's postmaster and abuse mail" in lines[2][1]


def test_a_domain_admin_works_only_in_their_domains(domain_admin, domain, other_domain, mailbox):
    _, lines = dry_run(
        domain_admin,
        f"mailbox,bob@example.org,,,,{GOOD},",
        f"mailbox,bob@other.example,,,,{GOOD},",
        f"mailbox,bob@nowhere.example,,,,{GOOD},",
        "domain,example.org,,,yes,,",
        "domain,example.org,,5G,,,",
        "domain,other.example,,,,,",
        "domain,new.example,,,,,",
        "alias,info@example.org,,,,,bob@other.example",
    )
    assert lines[2] == ("create", "")
    # The same words whether the domain exists or not.
    assert lines[3][1] == "other.example is not one of your domains"
    assert lines[4][1] == "nowhere.example is not one of your domains"
    assert lines[5] == ("unchanged", "")
    assert lines[6][1] == "example.org is on line 5 already"
    assert lines[7][1] == "other.example is not one of your domains"
    assert lines[8][1] == "new.example is not one of your domains"
    # Delivering to another domain's address is the form's rule too: it must exist.
    assert lines[9][1].startswith("bob@other.example is neither a mailbox nor an alias here")


def test_a_domain_admin_cannot_change_a_domains_settings(domain_admin, domain):
    _, lines = dry_run(domain_admin, "domain,example.org,,5G,,,")
    assert lines[2] == ("error", "only a superadmin can change a domain's settings (default quota unlimited → 5G)")


def test_internationalised_names_are_stored_as_a_labels_and_shown_as_u_labels(superadmin):
    result, lines = dry_run(superadmin, "domain,Bücher.example,,,,,", f"mailbox,zoe@BÜCHER.example,Zoë,,,{GOOD},")
    assert [(line.address, line.shown) for line in result.lines] == [
        ("xn--bcher-kva.example", "bücher.example"),
        ("zoe@xn--bcher-kva.example", "zoe@bücher.example"),
    ]


@pytest.mark.parametrize("catch_all", ["*@example.org", "@example.org", "'@example.org"])
def test_the_catch_all_is_written_with_a_star_or_without(superadmin, mailbox, catch_all):
    result, lines = dry_run(superadmin, f"alias,{catch_all},,,,,alice@example.org")
    assert lines[2] == ("create", "")
    assert (result.lines[0].address, result.lines[0].shown) == ("@example.org", "*@example.org")


def test_an_empty_cell_or_a_column_left_out_keeps_what_a_mailbox_has(superadmin, mailbox):
    actions.update_mailbox(mailbox, actor=COMMAND_LINE, quota_mb=2048, active=False)
    for data in [b"type,address\nmailbox,alice@example.org\n", f"{HEADER}\nmailbox,alice@example.org,,,,,\n".encode()]:
        assert plan(read(data), superadmin).lines[0].plan == "unchanged"
    result = plan(read(b"type,address,name,active\nmailbox,alice@example.org,Alice,yes\n"), superadmin)
    assert result.lines[0].message == "name “Alice Liddell” → “Alice”; enabled"
