from django import template

from core.quota import format_quota

register = template.Library()


@register.filter
def quota(megabytes: int) -> str:
    return format_quota(megabytes)
