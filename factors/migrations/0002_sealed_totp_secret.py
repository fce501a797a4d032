"""Authenticator app keys are kept sealed (core.sealed), as DKIM private keys are."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import migrations, models


def seal_keys(apps, schema_editor):
    Enrolment = apps.get_model("factors", "Enrolment")
    fernet = Fernet(settings.DKIM_ENCRYPTION_KEY)
    for pk, secret in Enrolment.objects.exclude(totp_secret="").values_list("pk", "totp_secret"):
        Enrolment.objects.filter(pk=pk).update(totp_secret=fernet.encrypt(secret.encode()).decode("ascii"))


def unseal_keys(apps, schema_editor):
    Enrolment = apps.get_model("factors", "Enrolment")
    fernet = Fernet(settings.DKIM_ENCRYPTION_KEY)
    for pk, token in Enrolment.objects.exclude(totp_secret="").values_list("pk", "totp_secret"):
        Enrolment.objects.filter(pk=pk).update(totp_secret=fernet.decrypt(token.encode()).decode())


class Migration(migrations.Migration):
    dependencies = [("factors", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="enrolment", name="totp_secret", field=models.CharField(blank=True, max_length=255)
        ),
        migrations.RunPython(seal_keys, unseal_keys),
    ]
