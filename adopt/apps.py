from django.apps import AppConfig


class AdoptConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "adopt"
    verbose_name = "Adopting a host built by hand"
