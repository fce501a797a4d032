"""Who must have a second factor: every admin, or the admins of some domains (set by a superadmin).
Mailbox users choose for themselves."""

from domains.models import Domain
from factors.models import Policy, RequiredDomain
from factors.people import Person


def requirement(person: Person) -> str | None:
    """Why this person must have a second factor, as a sentence, or None if they need not."""
    if not person.is_admin:
        return None
    if Policy.objects.filter(pk=1, all_admins=True).exists():
        return "A superadmin requires a second factor for every admin."
    required = RequiredDomain.objects.values("domain")
    names = [d.display_name for d in Domain.objects.filter(pk__in=required, admins=person.user).order_by("name")[:3]]
    if names:
        return f"A superadmin requires a second factor for the admins of {', '.join(names)}."
    return None
