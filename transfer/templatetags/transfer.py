from django import template

register = template.Library()


@register.filter
def thousands(number: int | None) -> str:
    """10000 → "10,000", as the dry run's messages write counts."""
    return f"{number or 0:,}"
