"""The superadmin's way to adopt a host from the browser: upload an archive of its files, read the dry
run, confirm. The confirmation reads the archive again and judges it against the database as it
is then; if the result is not the one shown, it is shown again instead of written."""

from dataclasses import asdict
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from adopt import actions
from adopt.findings import Paths
from adopt.forms import MAX_UPLOAD, UploadForm
from adopt.models import Adoption
from adopt.reading import read_host
from adopt.report import PLAN_WORDS, DryRun, Report, dry_run
from adopt.sources import Archive, SourceError
from audit.log import Actor
from core.access import superadmin_required
from core.http import HtmxHttpRequest
from domains import dkim
from transfer.plan import printable
from transfer.uploads import keep_in_memory

PAGE, REPORT = "adopt/adopt.html", "adopt/adoption.html"
EXPIRE = timedelta(hours=1)  # an archive not confirmed within the hour is wiped


def _page(request: HtmxHttpRequest, form: UploadForm | None = None, error: str = "", status: int = 200) -> HttpResponse:
    _expire()
    adoptions = Adoption.objects.select_related("owner")[:10]
    context = {"form": form or UploadForm(), "error": error, "adoptions": adoptions}
    return render(request, PAGE, context, status=status)


def _expire() -> None:
    stale = Adoption.objects.filter(state=Adoption.CHECKED, created_at__lt=timezone.now() - EXPIRE)
    stale.update(
        state=Adoption.CANCELLED, archive="", error="Not confirmed within an hour.", finished_at=timezone.now()
    )


@require_GET
@superadmin_required
def adopt_page(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@csrf_exempt
@require_POST
@superadmin_required
def adopt_upload(request: HtmxHttpRequest) -> HttpResponse:
    """The dry run. As for the CSV import, the upload stays in memory (it holds hashes and keys)
    and CSRF is checked inside, once the upload handler is set (Django's documented order)."""
    if not keep_in_memory(request, MAX_UPLOAD):
        return _too_large(request)
    return _dry_run(request)


def _too_large(request: HtmxHttpRequest) -> HttpResponse:
    error = f"The archive is larger than {MAX_UPLOAD / 1e6:.0f} MB: adopt such a host with manage.py adopt on it."
    return _page(request, error=error, status=413)


@csrf_protect
@sensitive_variables("data", "reading")
def _dry_run(request: HtmxHttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if request.upload_handlers[0].too_large:
        return _too_large(request)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    name = printable(upload.name or "", 255)
    try:
        reading = read_host(Archive(data, name or "the archive"), form.paths())
    except SourceError as e:
        form.add_error("file", str(e))
        return _page(request, form, status=400)
    report = dry_run(reading, request.user).report
    adoption = Adoption.objects.create(
        owner=request.user,
        file_name=name,
        state=Adoption.REFUSED if report.blocked else Adoption.CHECKED,
        paths=asdict(form.paths()),
        report=report.as_dict(),
        digest=report.digest(),
        archive="" if report.blocked else dkim.encrypt(data),
        finished_at=timezone.now() if report.blocked else None,
    )
    return redirect("adoption", adoption_id=adoption.pk)


def _adoption_for(adoption_id: int) -> Adoption:
    _expire()
    return get_object_or_404(Adoption, pk=adoption_id)


@require_GET
@superadmin_required
def adoption(request: HtmxHttpRequest, adoption_id: int) -> HttpResponse:
    adoption = _adoption_for(adoption_id)
    report = Report.from_dict(adoption.report)
    counts = report.counts
    filters = [("all", "All", len(report.items))] + [
        (key, word.capitalize(), counts[key]) for key, word in PLAN_WORDS.items() if counts.get(key)
    ]
    default = "error" if counts.get("error") else "all"
    show = request.GET.get("show") if request.GET.get("show") in dict.fromkeys(k for k, _, _ in filters) else default
    rows = [(item, PLAN_WORDS[item.plan]) for item in report.items if show == "all" or item.plan == show]
    context = {"adoption": adoption, "report": report, "rows": rows, "show": show, "filters": filters}
    return render(request, REPORT, context)


@require_POST
@superadmin_required
@sensitive_variables("data", "planned")
def adoption_confirm(request: HtmxHttpRequest, adoption_id: int) -> HttpResponse:
    adoption = _adoption_for(adoption_id)
    if adoption.state != Adoption.CHECKED:
        messages.error(request, f"This adoption is {adoption.get_state_display()}: there is nothing to confirm.")
        return redirect("adoption", adoption_id=adoption.pk)
    data = dkim.decrypt(adoption.archive)
    reading = read_host(Archive(data, adoption.file_name or "the archive"), Paths(**adoption.paths))
    planned: DryRun = dry_run(reading, request.user)
    if planned.report.digest() != adoption.digest:
        adoption.report, adoption.digest = planned.report.as_dict(), planned.report.digest()
        if planned.report.blocked:
            adoption.state, adoption.archive, adoption.finished_at = Adoption.REFUSED, "", timezone.now()
        adoption.save()
        messages.error(request, "The panel changed since this dry run: here is the dry run again. Nothing was adopted.")
        return redirect("adoption", adoption_id=adoption.pk)
    try:
        done = actions.adopt(planned, reading, actor=Actor(f"admin {request.user.username}, adoption", request.user))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("adoption", adoption_id=adoption.pk)
    adoption.state, adoption.archive, adoption.finished_at = Adoption.ADOPTED, "", timezone.now()
    adoption.results = asdict(done)
    adoption.save()
    messages.success(request, "Adopted. The mail configuration is applied once, for the whole host.")
    return redirect("adoption", adoption_id=adoption.pk)


@require_POST
@superadmin_required
def adoption_cancel(request: HtmxHttpRequest, adoption_id: int) -> HttpResponse:
    adoption = _adoption_for(adoption_id)
    if adoption.state == Adoption.CHECKED:
        adoption.state, adoption.archive, adoption.finished_at = Adoption.CANCELLED, "", timezone.now()
        adoption.save()
        messages.success(request, "Cancelled: nothing was adopted, and the uploaded archive is wiped.")
    else:
        messages.error(request, f"This adoption is {adoption.get_state_display()}: it cannot be cancelled.")
    return redirect("adoption", adoption_id=adoption.pk)
