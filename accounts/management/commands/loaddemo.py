from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import mailpasswords
from accounts.models import Address, Alias, Mailbox
from domains.models import Domain

BATCH = 5000


def claim(rows: list[Mailbox | Alias]) -> None:
    """Insert mailboxes or aliases with the address rows the actions would make for them."""
    if rows:
        Address.objects.bulk_create([Address(domain=row.domain, local_part=row.local_part) for row in rows])
        type(rows[0]).objects.bulk_create(rows)


def load_demo(mailboxes: int, domains: int, password: str = "demo password 1") -> None:
    """N mailboxes spread over D domains, plus one alias per domain. One hash serves them all:
    hashing 100,000 passwords would measure libxcrypt, not the panel."""
    password_hash = mailpasswords.make_hash(password)
    now = timezone.now()
    with transaction.atomic():
        created = Domain.objects.bulk_create(
            [Domain(name=f"demo{i:03d}.example") for i in range(domains)], batch_size=BATCH
        )
        created = list(Domain.objects.filter(name__in=[d.name for d in created]).order_by("name"))
        rows = (
            Mailbox(
                domain=created[n % domains],
                local_part=f"user{n:06d}",
                display_name=f"User {n}",
                password_hash=password_hash,
                password_changed_at=now,
            )
            for n in range(mailboxes)
        )
        batch: list[Mailbox] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                claim(batch)
                batch = []
        claim(batch)
        for domain in created:  # as create_mailbox keeps it
            Domain.objects.filter(pk=domain.pk).update(mailbox_count=domain.mailboxes.count())
        aliases = [
            Alias(domain=d, local_part="postmaster", destinations=[f"user000000@{created[0].name}"]) for d in created
        ]
        claim(aliases)


class Command(BaseCommand):
    help = "Load demo domains and mailboxes (for benchmarks and trying the panel). Demo mailboxes share one password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mailboxes", type=int, default=1000)
        parser.add_argument("--domains", type=int, default=100)

    def handle(self, mailboxes: int, domains: int, **options) -> None:
        load_demo(mailboxes, domains)
        self.stdout.write(f"loaded {mailboxes} mailboxes in {domains} demo domains (password: demo password 1)")
