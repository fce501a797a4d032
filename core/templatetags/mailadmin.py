from django import template

from core.quota import format_quota

register = template.Library()


@register.filter
def quota(megabytes: int) -> str:
    return format_quota(megabytes)


@register.filter
def problems_for(config_state, domain_name: str) -> list[dict]:
    """The rows of this domain the last apply left out (export.models.ConfigState.problems_of)."""
    return config_state.problems_of(domain_name) if config_state else []
