"""Request types for annotations, as django-htmx recommends: what the middleware adds, typed."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
