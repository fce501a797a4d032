"""The apply worker's second job: keep each mailbox's usage, last login and waiting mail in the
database (accounts.usage reads Dovecot's files; only the helper may run doveadm and smtpctl)."""

import logging

from accounts.models import Mailbox
from accounts.usage import sync_queue, sync_usage
from export import helper_client
from export.dirty import config_state
from export.models import ConfigState

log = logging.getLogger(__name__)
# Mailboxes whose usage is still unknown, measured through the helper each round (doveadm
# takes ~50 ms a user): new mailboxes are known within a round or two, and a round stays short.
MEASURE_PER_ROUND = 20


def measure_unknown(limit: int = MEASURE_PER_ROUND) -> int:
    unknown = Mailbox.objects.filter(fill_permille=-1, active=True).select_related("domain")[:limit]
    measured = 0
    for mailbox in unknown.only("local_part", "domain__name"):
        answer = helper_client.call({"op": "measure_usage", "user": mailbox.ascii_address}, timeout=30)
        if not answer.get("ok"):
            log.warning("measuring %s failed: %s", mailbox.ascii_address, answer.get("error"))
            break
        measured += answer.get("written", 0)
    return measured


def refresh(since: float) -> float:
    """One round: seed a few unknown mailboxes, read the queue, copy changed usage files.
    Returns the `since` for the next round; a helper that cannot be asked only skips its part."""
    try:
        measure_unknown()
        answer = helper_client.call({"op": "queue"}, timeout=30)
        if answer.get("ok"):
            waiting = sorted(sync_queue(answer["envelopes"]))
            config_state()  # the row exists from then on
            ConfigState.objects.filter(pk=1).update(queued_domains=waiting)
        else:
            log.warning("reading the mail queue failed: %s", answer.get("error"))
    except helper_client.HelperError as e:
        log.warning("usage round without the helper: %s", e)
    _, since = sync_usage(since)
    return since
