import tempfile

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from accounts.models import User
from core.management.commands._dump import APPS, LEFT_OUT, dump
from domains.models import Domain


class Command(BaseCommand):
    help = (
        "Copy this installation's database (e.g. the SQLite default) into another one given by URL "
        "(e.g. PostgreSQL), which must be empty; then point DATABASE_URL at it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("target_url", help="e.g. postgres://mailadmin:…@127.0.0.1/mailadmin")

    def handle(self, target_url: str, **options) -> None:
        target = dj_database_url.parse(target_url)
        if (
            target["ENGINE"] == connections["default"].settings_dict["ENGINE"]
            and target["NAME"] == connections["default"].settings_dict["NAME"]
        ):
            raise CommandError("the target is the database this installation already uses")
        connections.settings["target"] = connections.configure_settings(
            {"default": connections.settings["default"], "target": target}
        )["target"]
        try:
            call_command("migrate", database="target", verbosity=0)
            if User.objects.using("target").exists() or Domain.objects.using("target").exists():
                raise CommandError("the target database is not empty")
            rows = dump()
            with tempfile.NamedTemporaryFile("w", suffix=".json") as fixture:
                fixture.write(rows)
                fixture.flush()
                call_command("loaddata", fixture.name, database="target", verbosity=0)
            source, target = self.counts("default"), self.counts("target")
            if source != target:
                raise CommandError(f"the copy differs from the source: {source} != {target}")
            self.stdout.write(
                f"copied {sum(source.values())} rows: " + ", ".join(f"{m} {n}" for m, n in source.items() if n)
            )
        finally:
            connections["target"].close()
            del connections.settings["target"]

    @staticmethod
    def counts(database: str) -> dict[str, int]:
        return {
            model._meta.label: model.objects.using(database).count()
            for app in APPS
            for model in apps.get_app_config(app).get_models()
            if model._meta.label_lower not in LEFT_OUT
        }
