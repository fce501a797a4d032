from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "export"
    label = "export"
    verbose_name = "configuration export"
