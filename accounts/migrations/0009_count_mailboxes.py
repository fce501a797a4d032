from django.db import migrations
from django.db.models import Count


def count_mailboxes(apps, schema_editor):
    Domain = apps.get_model("domains", "Domain")
    Mailbox = apps.get_model("accounts", "Mailbox")
    counts = dict(Mailbox.objects.values_list("domain_id").annotate(n=Count("pk")).values_list("domain_id", "n"))
    for domain in Domain.objects.all():
        Domain.objects.filter(pk=domain.pk).update(mailbox_count=counts.get(domain.pk, 0))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_app_passwords"),
        ("domains", "0003_mailbox_count"),
    ]

    operations = [migrations.RunPython(count_mailboxes, migrations.RunPython.noop)]
