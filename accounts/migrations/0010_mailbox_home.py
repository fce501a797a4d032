from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_count_mailboxes"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="home",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
    ]
