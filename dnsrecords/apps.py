from django.apps import AppConfig


class DnsrecordsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dnsrecords"
