from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from audit.log import actor_for, record
from core.access import admin_required
from core.addresses import normalize_domain
from core.http import HtmxHttpRequest
from domains.access import domain_for
from domains.models import Domain
from transfer import csvformat, exporting, runner
from transfer.access import job_for, jobs_for
from transfer.forms import ExportForm, ImportForm
from transfer.models import ImportJob, ImportLine
from transfer.plan import plan
from transfer.uploads import keep_in_memory

PAGE = "transfer/csv.html"
JOB_PAGE = "transfer/import_job.html"


def _page(request: HtmxHttpRequest, form: ImportForm | None = None, error: str = "", status: int = 200) -> HttpResponse:
    jobs = runner.look_at_all(list(jobs_for(request).select_related("owner")[:10]))
    export_form = ExportForm(user=request.user, initial={"domain": request.GET.get("domain")})
    context = {"form": form or ImportForm(), "error": error, "export_form": export_form, "jobs": jobs}
    return render(request, PAGE, context, status=status)


@require_GET
@admin_required
def transfer_page(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@admin_required
def export_csv(request: HtmxHttpRequest) -> HttpResponse:
    hashes = request.GET.get("hashes") in ("on", "1", "true")
    if hashes and not request.user.is_superuser:
        raise PermissionDenied("Only superadmins can export password hashes.")
    name = request.GET.get("domain", "")
    domains = Domain.objects.managed_by(request.user)
    if name:
        try:
            name = normalize_domain(name)  # a U-label too; a NUL byte never reaches the database
        except ValidationError:
            raise Http404("No such domain.") from None
        domains = domains.filter(pk=domain_for(request, name).pk)
    if hashes:
        record(
            actor_for(request),
            "exported",
            "CSV file",
            name or "all domains",
            domain=None,
            changes={"hashes": [None, True]},
        )
    # A byte-order mark, so that spreadsheets read the file as UTF-8 (the import takes it off).
    content = ("\ufeff", *csvformat.write(exporting.rows(domains, hashes=hashes)))
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="mailadmin-{name or "all"}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
@admin_required
def import_csv(request: HtmxHttpRequest) -> HttpResponse:
    """The dry run. The upload handler is set before anything reads the body, which is why CSRF
    is checked inside, after it (Django's documented way to change upload handlers)."""
    if not keep_in_memory(request, csvformat.MAX_BYTES):
        return _too_large(request)
    return _dry_run(request)


def _too_large(request: HtmxHttpRequest) -> HttpResponse:
    limit = csvformat.MAX_BYTES / 1e6
    return _page(request, error=f"The file is larger than {limit:.1f} MB. Split it into smaller files.", status=413)


@csrf_protect
@sensitive_variables("data", "result", "plain_texts")
def _dry_run(request: HtmxHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if request.upload_handlers[0].too_large:
        return _too_large(request)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    upload.close()
    try:
        result = plan(csvformat.read(data), request.user)
    except csvformat.FileError as e:
        form.add_error("file", str(e))
        return _page(request, form, status=400)
    finally:
        del data
    runner.prune()
    job = runner.create_job(result, owner=request.user, file_name=upload.name or "")
    if job.state == ImportJob.HASHING:
        plain_texts = result.plain_texts
        transaction.on_commit(lambda: runner.launch(runner.hash_passwords, job.pk, plain_texts))
    return redirect("csv_import_job", job_id=job.pk)


LINE_FILTERS = {
    "error": ("Errors", {"plan": ImportLine.ERROR}),
    "create": ("Will create", {"plan": ImportLine.CREATE}),
    "change": ("Will change", {"plan": ImportLine.CHANGE}),
    "unchanged": ("Unchanged", {"plan": ImportLine.UNCHANGED}),
    "failed": ("Failed", {"outcome": ImportLine.FAILED}),
    "all": ("All lines", {}),
}


@require_GET
@admin_required
def import_job(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = runner.look(job_for(request, job_id))
    if request.htmx and request.htmx.target == "progress":
        if request.GET.get("state") != job.state:
            return HttpResponseClientRefresh()  # a new state shows new buttons and results: reload
        return render(request, f"{JOB_PAGE}#progress", {"job": job})
    return render(request, JOB_PAGE, _job_context(request, job))


def _job_context(request: HtmxHttpRequest, job: ImportJob) -> dict:
    default = "error" if job.has_errors else "failed" if job.results.get(ImportLine.FAILED) else "all"
    show = request.GET.get("show") if request.GET.get("show") in LINE_FILTERS else default
    lines = job.lines.filter(**LINE_FILTERS[show][1]).order_by("number")
    # Every error at once; other lists a page at a time.
    page = Paginator(lines, (lines.count() or 1) if show == "error" else settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = {key: job.planned.get(key, 0) for key in ("error", "create", "change", "unchanged")}
    counts["failed"] = job.results.get(ImportLine.FAILED, 0)
    counts["all"] = sum(job.planned.values())
    filters = [(key, label, counts[key]) for key, (label, _) in LINE_FILTERS.items() if counts[key] or key == "all"]
    context = {"job": job, "page": page, "show": show, "filters": filters}
    if job.state == ImportJob.INTERRUPTED:
        context["not_written"] = runner.ranges(runner.not_written(job))
    return context


@require_POST
@admin_required
def import_confirm(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Confirm a checked import, or continue one interrupted while writing."""
    job = runner.look(job_for(request, job_id))
    if job.state == ImportJob.INTERRUPTED:
        writes = runner.resume(job)
    elif job.state in (ImportJob.HASHING, ImportJob.READY) and not job.confirmed:
        writes = runner.confirm(job)
    else:
        messages.error(request, f"This import is {job.get_state_display()}: there is nothing to confirm.")
        return redirect("csv_import_job", job_id=job.pk)
    if writes:
        transaction.on_commit(lambda: runner.launch(runner.write, job.pk))
    return redirect("csv_import_job", job_id=job.pk)


@require_POST
@admin_required
def import_cancel(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = runner.look(job_for(request, job_id))
    if runner.cancel(job):
        messages.success(request, "Cancelled: nothing more is written, and the password hashes are wiped.")
    else:
        messages.error(request, f"This import is {job.get_state_display()}: it cannot be cancelled now.")
    return redirect("csv_import_job", job_id=job.pk)
