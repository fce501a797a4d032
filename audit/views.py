from django.http import HttpResponse
from django.shortcuts import render

from audit.models import AuditEntry
from core.access import admin_required
from core.http import HtmxHttpRequest
from core.views import paginate


@admin_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip().lower()
    entries = AuditEntry.objects.select_related("actor").visible_to(request.user).search(query)
    template = "audit/audit.html#entries" if request.htmx else "audit/audit.html"
    return render(request, template, {"page": paginate(request, entries), "q": query})
