"""The shapes of the API's requests and answers, from which the OpenAPI document is generated.

Request serializers only check JSON types. What a value may be is decided by the panel's own
forms and actions (api.writes), so the API refuses exactly what the pages refuse, in the same
words; a second set of rules here could only drift from theirs.
"""

from functools import cache

from rest_framework import serializers

from domains.actions import POLICY_FIELDS
from domains.models import DomainPolicy


class Text(serializers.CharField):
    """A string passed to the form as it came: the form refuses control characters, NUL
    included, with its own message (DRF's CharField would refuse some first, in other words)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = []


QUOTA_HELP = "A size as the panel takes it: 500M, 2G, 1.5T; 0 or unlimited for none."


# Requests.


class DomainCreate(serializers.Serializer):
    name = Text(help_text="The domain name; international names are stored as A-labels.")
    active = serializers.BooleanField(default=True)
    default_quota = Text(required=False, help_text=f"Quota for new mailboxes. {QUOTA_HELP}")
    alias_of = Text(required=False, allow_null=True, help_text="Make it an alias domain of this domain.")


class DomainUpdate(serializers.Serializer):
    active = serializers.BooleanField(required=False)
    default_quota = Text(required=False, help_text=QUOTA_HELP)
    alias_of = Text(required=False, allow_null=True, help_text="null: an ordinary domain.")


class MailboxCreate(serializers.Serializer):
    local_part = Text(help_text="The part before the @.")
    password = Text(help_text="The mail password; stored only as a hash.")
    display_name = Text(required=False)
    quota = Text(required=False, help_text=f"{QUOTA_HELP} Missing: the domain's default quota.")
    active = serializers.BooleanField(default=True)


class MailboxUpdate(serializers.Serializer):
    display_name = Text(required=False)
    quota = Text(required=False, help_text=QUOTA_HELP)
    active = serializers.BooleanField(required=False)
    password = Text(required=False, help_text="A new mail password; missing: unchanged.")


class AliasCreate(serializers.Serializer):
    local_part = Text(help_text="The part before the @; empty for a catch-all.")
    destinations = serializers.ListField(child=Text(), help_text="Addresses here or anywhere else.")
    active = serializers.BooleanField(default=True)


class AliasUpdate(serializers.Serializer):
    destinations = serializers.ListField(child=Text(), required=False)
    active = serializers.BooleanField(required=False)


class DkimKeyCreate(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["rsa-2048", "rsa-4096", "ed25519"], default="rsa-2048")
    selector = Text(required=False, help_text="Empty: one based on today's date.")


class DkimKeyActivate(serializers.Serializer):
    unpublished_ok = serializers.BooleanField(
        default=False,
        help_text="Switch even though no check has seen the key's record: receivers then fail every signature.",
    )


def _policy_field(name: str) -> serializers.Field:
    field = DomainPolicy._meta.get_field(name)
    text = str(field.help_text) or str(field.verbose_name)
    if field.get_internal_type() == "BooleanField":
        return serializers.BooleanField(required=False, help_text=text)
    if field.get_internal_type().endswith("IntegerField"):
        return serializers.IntegerField(required=False, help_text=text)
    return Text(required=False, help_text=text)


PolicyUpdate = type("PolicyUpdate", (serializers.Serializer,), {name: _policy_field(name) for name in POLICY_FIELDS})


# Answers.


class DomainOut(serializers.Serializer):
    name = serializers.CharField(help_text="As stored: the A-label.")
    display_name = serializers.CharField(help_text="As shown: the U-label.")
    active = serializers.BooleanField()
    default_quota_mb = serializers.IntegerField(help_text="0: unlimited.")
    alias_of = serializers.CharField(source="alias_of.name", allow_null=True, default=None)
    mailbox_count = serializers.IntegerField(required=False)
    alias_count = serializers.IntegerField(required=False)
    created_at = serializers.DateTimeField()


class MailboxOut(serializers.Serializer):
    address = serializers.CharField(source="ascii_address")
    local_part = serializers.CharField()
    display_name = serializers.CharField()
    quota_mb = serializers.IntegerField(help_text="0: unlimited.")
    active = serializers.BooleanField()
    used_bytes = serializers.IntegerField(allow_null=True, help_text="null: not measured yet.")
    used_messages = serializers.IntegerField(allow_null=True)
    fill_permille = serializers.IntegerField(help_text="Thousandths of the quota used: -1 unknown, 0 unlimited.")
    last_login_at = serializers.DateTimeField(allow_null=True, help_text="The last IMAP login.")
    app_passwords_only = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AliasOut(serializers.Serializer):
    id = serializers.IntegerField()
    local_part = serializers.CharField(help_text="Empty for a catch-all.")
    address = serializers.SerializerMethodField()
    catch_all = serializers.BooleanField(source="is_catch_all")
    destinations = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()

    def get_address(self, alias) -> str:
        return f"{alias.local_part}@{alias.domain.name}"


class DkimKeyOut(serializers.Serializer):
    id = serializers.IntegerField()
    selector = serializers.CharField()
    algorithm = serializers.CharField()
    bits = serializers.IntegerField()
    state = serializers.CharField(help_text="pending, active, retired or removed.")
    record_name = serializers.CharField()
    public_key = serializers.CharField(help_text="The p= value of the DNS record.")
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True, help_text="When a live check first saw the record.")
    activated_at = serializers.DateTimeField(allow_null=True)
    retired_at = serializers.DateTimeField(allow_null=True)
    due_for_rotation = serializers.BooleanField()
    past_grace_period = serializers.BooleanField(help_text="Retired long enough ago to be removed.")


PolicyOut = type(
    "PolicyOut",
    (serializers.Serializer,),
    {name: _policy_field(name) for name in POLICY_FIELDS} | {"updated_at": serializers.DateTimeField()},
)


class CheckOut(serializers.Serializer):
    status = serializers.CharField(help_text="ok, missing, different, conflicting or error.")
    detail = serializers.CharField()
    found = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()
    previous_status = serializers.CharField()
    changed = serializers.BooleanField(help_text="The status differs from the check before.")
    first_ok_at = serializers.DateTimeField(allow_null=True)


class RecordOut(serializers.Serializer):
    index = serializers.IntegerField(help_text="For checking this record alone.")
    name = serializers.CharField()
    type = serializers.CharField()
    value = serializers.CharField()
    zone_value = serializers.CharField(help_text="The value as a zone file writes it.")
    level = serializers.CharField(help_text="required, recommended, optional, or delete (must not be published).")
    reason = serializers.CharField()
    ttl = serializers.IntegerField()
    zone = serializers.CharField(help_text="The zone it belongs in, when not the domain's own.")
    check = CheckOut(allow_null=True, help_text="The last live check; null: never checked.")


class DnsOut(serializers.Serializer):
    domain = serializers.CharField()
    unsigned = serializers.CharField(help_text="Why mail leaves unsigned; empty when it is signed.")
    records = RecordOut(many=True)
    zone_file = serializers.CharField(help_text="The records as zone-file text.")


class ProblemRowOut(serializers.Serializer):
    domain = serializers.CharField()
    row = serializers.CharField()
    reason = serializers.CharField()


class GenerationOut(serializers.Serializer):
    id = serializers.IntegerField()
    requested_by = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    ok = serializers.BooleanField(allow_null=True)
    changed = serializers.ListField(child=serializers.CharField())
    reloaded = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField()
    problems = ProblemRowOut(many=True)
    seconds = serializers.FloatField(allow_null=True)


class ConfigOut(serializers.Serializer):
    wanted = serializers.IntegerField(help_text="Changes committed so far (a counter).")
    applied = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Changes waiting to be applied.")
    running_since = serializers.DateTimeField(allow_null=True)
    last_ok = serializers.BooleanField(allow_null=True)
    last_error = serializers.CharField()
    last_finished_at = serializers.DateTimeField(allow_null=True)
    last_applied_generation = serializers.IntegerField(allow_null=True)
    last_applied_at = serializers.DateTimeField(allow_null=True)
    last_problems = ProblemRowOut(many=True, help_text="Rows the live generation left out (of this token's domains).")
    generations = GenerationOut(many=True, required=False, help_text="The last 20 applies (superadmins only).")


class AuditEntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_name")
    domain = serializers.CharField(source="domain_name")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_name = serializers.CharField()
    changes = serializers.DictField(help_text="{field: [before, after]}; never a secret.")


class TokenOut(serializers.Serializer):
    name = serializers.CharField()
    admin = serializers.CharField(source="owner.username")
    superadmin = serializers.BooleanField(source="owner.is_superuser")
    writes = serializers.BooleanField(help_text="false: read-only.")
    all_domains = serializers.BooleanField()
    domains = serializers.SerializerMethodField(help_text="The chosen domains, when not all.")
    expires_at = serializers.DateTimeField(allow_null=True)

    def get_domains(self, token) -> list[str]:
        return [] if token.all_domains else sorted(d.name for d in token.domains.all())


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A page of `item`s, as core.views.paginate cuts it for the panel's lists."""
    name = item.__name__.removesuffix("Out") + "Page"
    fields = {
        "count": serializers.IntegerField(help_text="Rows in all pages."),
        "page": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "next": serializers.IntegerField(allow_null=True, help_text="The next page's number, null on the last."),
        "previous": serializers.IntegerField(allow_null=True),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)
