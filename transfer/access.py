from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from transfer.models import ImportJob


def jobs_for(request: HttpRequest):
    """The imports an admin may see: their own; every one for a superadmin."""
    jobs = ImportJob.objects.all()
    return jobs if request.user.is_superuser else jobs.filter(owner=request.user)


def job_for(request: HttpRequest, job_id: int) -> ImportJob:
    """Someone else's import is a 404, as an object outside one's domains is."""
    return get_object_or_404(jobs_for(request), pk=job_id)
