import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from export import usage
from export.apply import apply_pending


class Command(BaseCommand):
    help = "Apply the database to the mail daemons whenever it changes (through the privileged helper)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="apply once if anything is pending, then exit")
        parser.add_argument("--force", action="store_true", help="with --once: apply even if nothing changed")
        parser.add_argument("--interval", type=float, default=0.1, help="seconds between checks for changes")
        parser.add_argument(
            "--usage-interval", type=float, default=60, help="seconds between reading mailbox usage and the queue"
        )

    def handle(self, once: bool, force: bool, interval: float, usage_interval: float, **options) -> None:
        if once:
            self.report(apply_pending(force=force, requested_by="command line"))
            return
        stopping = False

        def stop(*_) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # Once at start: a change committed just before a crash may never have marked itself
        # dirty, and after a reboot the daemons should see exactly what the database says.
        self.report(apply_pending(force=True, requested_by="apply worker start"))
        self.stdout.write("apply worker: waiting for changes")
        since, next_usage = 0.0, time.monotonic()
        while not stopping:
            close_old_connections()
            generation = apply_pending()
            if generation:
                self.report(generation)
            elif time.monotonic() >= next_usage:
                since = usage.refresh(since)
                next_usage = time.monotonic() + usage_interval
            else:
                time.sleep(interval)

    def report(self, generation) -> None:
        if generation is None:
            self.stdout.write("nothing to apply")
        elif generation.ok:
            self.stdout.write(
                f"applied generation {generation.pk}: {len(generation.changed)} files changed, "
                f"reloaded: {', '.join(generation.reloaded) or 'nothing'}"
            )
        else:
            self.stderr.write(f"generation {generation.pk} failed: {generation.error}")
