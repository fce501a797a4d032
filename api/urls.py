"""The REST API under /api/v1/ and the admin's token page. Names in URLs are stored forms, as
in the panel's own URLs (mailadmin.urls registers the converters)."""

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from api import views
from api.endpoints import addresses, dns, domains, host

V1 = "api/v1/"
DOMAIN = V1 + "domains/<domain:name>/"


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def not_found(request: Request, rest: str) -> None:
    """Any other path under /api/v1/: a problem, not the panel's HTML 404 page."""
    raise NotFound("There is no such API path; the OpenAPI document at /api/v1/openapi.json lists them.")


schema = SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[], throttle_classes=[])

urlpatterns = [
    path("api-tokens/", views.tokens, name="api_tokens"),
    path("api-tokens/confirm/", views.confirm, name="api_token_confirm"),
    path("api-tokens/confirm/options/", views.confirm_passkey_options, name="api_token_confirm_options"),
    path("api-tokens/<int:token_id>/revoke/", views.revoke, name="api_token_revoke"),
    path(V1 + "openapi.json", schema, name="api_schema"),
    path(V1 + "token/", host.token, name="api_token"),
    path(V1 + "config/", host.config, name="api_config"),
    path(V1 + "config/apply/", host.apply_now, name="api_apply"),
    path(V1 + "audit/", host.audit, name="api_audit"),
    path(V1 + "domains/", domains.domains, name="api_domains"),
    path(DOMAIN, domains.domain, name="api_domain"),
    path(DOMAIN + "mailboxes/", addresses.mailboxes, name="api_mailboxes"),
    path(DOMAIN + "mailboxes/<localpart:local_part>/", addresses.mailbox, name="api_mailbox"),
    path(DOMAIN + "aliases/", addresses.aliases, name="api_aliases"),
    path(DOMAIN + "aliases/<int:alias_id>/", addresses.alias, name="api_alias"),
    path(DOMAIN + "dkim-keys/", dns.dkim_keys, name="api_dkim_keys"),
    path(DOMAIN + "dkim-keys/<int:key_id>/", dns.dkim_key, name="api_dkim_key"),
    path(DOMAIN + "dkim-keys/<int:key_id>/activate/", dns.dkim_activate, name="api_dkim_activate"),
    path(DOMAIN + "policy/", dns.policy, name="api_policy"),
    path(DOMAIN + "dns/", dns.dns, name="api_dns"),
    path(DOMAIN + "dns/check/", dns.dns_check, name="api_dns_check"),
    path(DOMAIN + "dns/check/<int:index>/", dns.dns_check_one, name="api_dns_check_one"),
    re_path(r"^api/v1/(?P<rest>.*)$", not_found),
]
