from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from accounts.models import Alias, Mailbox
from domains.access import domain_for


def mailbox_for(request: HttpRequest, domain_name: str, local_part: str) -> Mailbox:
    domain = domain_for(request, domain_name)
    mailbox = get_object_or_404(Mailbox, domain=domain, local_part=local_part)
    mailbox.domain = domain
    return mailbox


def alias_for(request: HttpRequest, domain_name: str, alias_id: int) -> Alias:
    domain = domain_for(request, domain_name)
    alias = get_object_or_404(Alias, domain=domain, pk=alias_id)
    alias.domain = domain
    return alias
