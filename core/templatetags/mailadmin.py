from html import escape

from django import template
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from core.addresses import display_domain
from core.quota import fill_permille, format_bytes, format_quota

NEARLY_FULL = 900  # thousandths: warn at 90%

register = template.Library()


@register.filter
def quota(megabytes: int) -> str:
    return format_quota(megabytes)


@register.filter
def problems_for(config_state, domain_name: str) -> list[dict]:
    """The rows of this domain the last apply left out (export.models.ConfigState.problems_of)."""
    return config_state.problems_of(domain_name) if config_state else []


@register.simple_tag(takes_context=True)
def page_query(context, param: str, number: int) -> str:
    """The current query string with one page number changed: a search (even one with & or #
    in it) and the other list's page survive, properly encoded."""
    query = context["request"].GET.copy()
    query[param] = number
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def sort_query(context, param: str, value: str, page_param: str) -> str:
    """The current query string sorted another way, back on the first page."""
    query = context["request"].GET.copy()
    query[param] = value
    query.pop(page_param, None)
    return "?" + query.urlencode()


# What people read in the audit log: field names as the forms call them, values as the pages show them.
AUDIT_FIELDS = {
    "quota_mb": "quota",
    "default_quota_mb": "default quota",
    "display_name": "name",
    "spf_mechanisms": "SPF mechanisms",
    "spf_all": "SPF all",
    "mta_sts_mode": "MTA-STS mode",
    "mta_sts_max_age": "MTA-STS max_age",
    "tlsrpt_rua": "TLS reports to",
}


@register.filter
def audit_field(name: str) -> str:
    return AUDIT_FIELDS.get(name, name.replace("_", " ") if name.startswith("dmarc_") else name)


@register.filter
def audit_value(value, field: str = "") -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.endswith("quota_mb") and isinstance(value, int):
        return format_quota(value)
    if isinstance(value, list):
        return ", ".join(audit_value(v) for v in value)
    return display_name(str(value))


@register.filter
def display_name(value: str) -> str:
    """An address or domain name with its IDNA labels shown as people write them."""
    local, at, domain = value.rpartition("@")
    if "xn--" not in domain:
        return value
    return f"{local}{at}{display_domain(domain)}"


@register.filter
def active_badge(active: bool) -> str:
    """The active/disabled badge every list shows (a filter, not an include: it runs per row)."""
    return mark_safe('<span class="badge ok">active</span>' if active else '<span class="badge off">disabled</span>')


@register.filter
def usage(mailbox) -> str:
    """Used / quota with a meter, as "1.2G of 2G (60%)"; "not measured yet" until Dovecot has
    said (a filter, not an include: it runs per row). Takes a Mailbox or a dict with the fields.
    Everything in it is a number or a unit the panel wrote, so nothing needs escaping."""
    get = mailbox.get if isinstance(mailbox, dict) else lambda name: getattr(mailbox, name)
    used, quota_mb = get("used_bytes"), get("quota_mb")
    if used is None:
        quota = f"quota {format_quota(quota_mb)}" if quota_mb else "no quota"
        return mark_safe(f'{quota}, <span class="hint">not measured yet</span>')
    if not quota_mb:
        return mark_safe(f'{format_bytes(int(used))} <span class="hint">(no quota)</span>')
    permille = fill_permille(used, quota_mb)
    state = "full" if permille >= 1000 else "nearly-full" if permille >= NEARLY_FULL else ""
    return mark_safe(
        f'<span class="usage {state}"><meter min="0" max="1000" low="{NEARLY_FULL}" high="999" optimum="0"'
        f' value="{min(permille, 1000)}">{permille // 10}%</meter>'
        f" {format_bytes(int(used))} of {format_quota(int(quota_mb))} ({permille // 10}%)</span>"
    )


OVER_QUOTA_NOTE = (
    ": it is over its quota now, so new mail to it bounces as “mailbox full” until mail is deleted or the quota raised"
)


@register.simple_tag(takes_context=True)
def mailbox_row(context, mailbox, saved: bool = False) -> str:
    """One row of the domain page's mailbox table, in Python: the template language resolved
    about 35 variables per row, most of the page's time at 50 rows, and format_html's lazy-text
    checks cost as much again. Every value that comes from the database or the request goes
    through html.escape, which is what Django's escape runs."""
    domain, url = context["domain"], escape(f"{context['row_urls']['mailbox']}{mailbox.local_part}/")
    address = escape(f"{mailbox.local_part}@{domain.display_name}")
    login = localtime(mailbox.last_login_at).strftime("%Y-%m-%d %H:%M") if mailbox.last_login_at else "never"
    row_class, note = "", ""
    if saved:
        row_class = ' class="saved"'
        over = OVER_QUOTA_NOTE if mailbox.fill_permille >= 1000 else ""
        note = f'<span class="saved-note" role="status">Saved{escape(over)}</span>'
    return mark_safe(
        f'<tr id="mailbox-{int(mailbox.pk)}"{row_class}>\n'
        f'  <td class="address">{address}</td>\n'
        f"  <td>{escape(mailbox.display_name)}</td>\n"
        f"  <td>{usage(mailbox)}</td>\n"
        f"  <td>{login}</td>\n"
        f"  <td>{active_badge(mailbox.active)}</td>\n"
        '  <td class="actions">\n'
        f"    {note}\n"
        f'    <a href="{url}" hx-get="{url}" hx-target="closest tr" hx-swap="outerHTML">Edit</a>\n'
        f'    <form method="post" action="{url}toggle/" hx-post="{url}toggle/" hx-target="closest tr"'
        f' hx-swap="outerHTML"><input type="hidden" name="csrfmiddlewaretoken"'
        f' value="{escape(str(context.get("csrf_token", "")))}">\n'
        f'      <button type="submit" class="link">{"Disable" if mailbox.active else "Enable"}</button>\n'
        "    </form>\n"
        f'    <a class="danger" href="{url}delete/" hx-post="{url}delete/"\n'
        f'       hx-confirm="Delete the mailbox {address}? Mail to it will be refused." hx-target="closest tr"'
        ' hx-swap="outerHTML">Delete</a>\n'
        "  </td>\n"
        "</tr>"
    )
