from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "mailadmin.export"
    label = "export"
    verbose_name = "configuration export"
