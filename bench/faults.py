"""Load and faults: the panel under gunicorn, edited through its forms while its parts are killed.

Starts, on a fresh SQLite database in a temporary directory, gunicorn (3 sync workers on a free
loopback port), the real helper (unprivileged, against a sandbox root) and `manage.py
applyworker`. Then, for SECONDS (90) or MAX_REQUESTS requests, 12 clients go through the
real forms over HTTP with CSRF, as the superadmin or as mailbox users: 4 create mailboxes, 4
edit the quotas of 48 mailboxes, 4 sign in as those same mailboxes and change their passwords
(so an admin's edit that wrote back a stale password would show). Meanwhile the main thread
SIGKILLs the apply worker every 10-15 s (every other time while an apply is open), the helper
twice and one gunicorn worker, and restarts what it killed (gunicorn respawns its own).

At the end it waits for the worker to apply everything and checks the users file the helper
installed (ROOT/etc/dovecot/users) against what the clients were told: every created mailbox
is there with its password and quota, the last quota and password each client set are the
ones in the file, and no value the file once moved past comes back (sampled every 0.2 s
during the run). A request that got no answer or a 5xx is "in doubt": either outcome is
accepted, and the next sign-in finds out which password holds. The clients do not follow
redirects (the flash message is dropped).

Last, two quiet probes: one quota change with nothing after it, its apply cut by a SIGKILL of
the worker, then of the helper (stopped first, so the apply is surely waiting on it when it
dies): how long until the change is in the users file and recorded as applied.

    .venv/bin/python bench/faults.py [SECONDS]      (default: 90)
"""

import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from _setup import ROOT, VAR, fresh_database, percentile
from django.db import close_old_connections, connection

from accounts import actions, mailpasswords
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from export.models import ConfigState, Generation
from export.stage import staged_dir
from tests.helpers import helper_process, sandbox_config

DOMAIN = "bench.example"
ADMIN, ADMIN_PASSWORD = "bench", "bench admin password 1"
MAILBOXES = 48  # edited by both the quota and the password clients
CREATORS, QUOTA_EDITORS, PASSWORD_CHANGERS = 4, 4, 4
MAX_REQUESTS = 6000
THINK = (0.02, 0.1)  # seconds each client waits between requests
WORKER_KILL_EVERY = (10, 15)
HELPER_KILLS_AT, GUNICORN_KILL_AT = (0.3, 0.65), 0.45  # fractions of the run
FAULTS_UNTIL = 0.85  # the last stretch runs without faults, so the final state is reached by traffic
RESTART_AFTER = 0.1  # systemd's default RestartSec
FINAL_WAIT = 120  # seconds for the worker to catch up after the last request
PROBE_WAIT = 90  # seconds for a change made in a quiet moment, its apply killed, to arrive
HTTP_TIMEOUT = 30

ROOT_DIR, STAGING, SOCKET = VAR / "export-root", VAR / "staging", VAR / "helper.sock"
USERS_FILE = ROOT_DIR / "etc/dovecot/users"
LOGS = VAR / "logs"
ENV = os.environ | {
    "MAILADMIN_VAR_DIR": str(VAR),
    "EXPORT_ROOT": str(ROOT_DIR),
    "STAGING_DIR": str(STAGING),
    "HELPER_SOCKET": str(SOCKET),
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
}


class InDoubt(Exception):
    """No answer, or a 5xx: the change may or may not have been saved."""


class NotSent(Exception):
    """The sign-in before the change failed: the change was never sent."""


class RunOver(Exception):
    """The time or the request budget is spent."""


class Browser:
    """One person's browser: cookies, CSRF token, a fresh connection per request (gunicorn's
    sync workers close each one)."""

    def __init__(self, port: int, stats: "Stats") -> None:
        self.port, self.stats, self.cookies = port, stats, {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        if not self.stats.take_request():
            raise RunOver
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            token = self.cookies.get("csrftoken", "")
            body = urlencode({"csrfmiddlewaretoken": token, **form})
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": token,
                "Referer": f"http://127.0.0.1:{self.port}{path}",
            }
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            self.stats.answer(f"no answer ({type(e).__name__})", method, path, time.monotonic() - started)
            raise InDoubt(type(e).__name__) from None
        finally:
            conn.close()
        self.stats.answer(response.status, method, path, time.monotonic() - started)
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if name == "messages":  # flash messages are shown by the page we do not fetch
                    continue
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.status >= 500:
            raise InDoubt(f"HTTP {response.status}")
        return response.status, response.getheader("Location", ""), text

    def sign_in(self, username: str, password: str) -> str:
        """Where the sign-in redirects to, or "" when it is refused."""
        self.cookies.clear()
        self.request("GET", "/login/")
        status, location, _ = self.request("POST", "/login/", {"username": username, "password": password})
        return location if status == 302 else ""


def form_errors(html: str) -> str:
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    return " | ".join(re.sub(r"<[^>]+>", "", e).strip() for e in found)[:200] or "(no form error shown)"


@dataclass
class History:
    """What clients set on one mailbox field, in order: (value, "accepted" | "doubt")."""

    initial: object
    changes: list[tuple[object, str]] = field(default_factory=list)

    def acceptable(self) -> list:
        """The last accepted value and any in doubt after it: the file may hold any of these."""
        last = max((i for i, (_, how) in enumerate(self.changes) if how == "accepted"), default=-1)
        tail = [v for v, _ in self.changes[last + 1 :]]
        return [self.initial if last < 0 else self.changes[last][0], *tail]

    def earlier(self) -> list:
        accepted = [i for i, (_, how) in enumerate(self.changes) if how == "accepted"]
        return [self.initial, *(v for v, _ in self.changes[: accepted[-1]])] if accepted else []


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.answers: Counter = Counter()
        self.server_errors: list[tuple[float, str, object]] = []
        self.times: dict[str, list[float]] = defaultdict(list)
        self.accepted: Counter = Counter()
        self.refused: Counter = Counter()
        self.doubts: Counter = Counter()
        self.started = time.monotonic()
        self.stop = threading.Event()

    def take_request(self) -> bool:
        with self.lock:
            if self.stop.is_set() or self.requests >= MAX_REQUESTS:
                return False
            self.requests += 1
            return True

    def answer(self, status: object, method: str, path: str, seconds: float) -> None:
        kind = f"{method} " + re.sub(r"/mailboxes/(?!new/)[^/]+/", "/mailboxes/<local>/", path)
        with self.lock:
            self.answers[status] += 1
            self.times[kind].append(seconds)
            if not isinstance(status, int) or status >= 500:
                self.server_errors.append((time.monotonic() - self.started, path, status))

    def count(self, counter: Counter, what: str) -> None:
        with self.lock:
            counter[what] += 1


def think() -> None:
    time.sleep(random.uniform(*THINK))


class Admin:
    """A superadmin's browser that signs in again if its session is gone."""

    def __init__(self, port: int, stats: Stats) -> None:
        self.browser, self.stats = Browser(port, stats), stats

    def post(self, path: str, form: dict) -> tuple[int, str, str]:
        for _ in range(3):
            try:
                signed_in = "sessionid" in self.browser.cookies or self.browser.sign_in(ADMIN, ADMIN_PASSWORD) == "/"
            except InDoubt:
                raise NotSent from None
            if not signed_in:
                raise RuntimeError("the superadmin cannot sign in")
            status, location, html = self.browser.request("POST", path, form)
            if not location.startswith("/login/"):
                return status, location, html
            self.browser.cookies.pop("sessionid", None)
        raise RuntimeError("the superadmin is signed out again and again")


def creator(number: int, port: int, stats: Stats, created: dict, doubtful: dict) -> None:
    admin = Admin(port, stats)
    for k in range(10**6):
        think()
        local = f"new{number}-{k:04d}"
        password, quota = f"pw {secrets.token_urlsafe(12)}", random.choice([0, 0, 50, 200, 1024, 5000])
        form = {
            "local_part": local,
            "display_name": f"New {number} {k}",
            "quota_mb": str(quota),
            "active": "on",
            "password1": password,
            "password2": password,
        }
        try:
            status, location, html = admin.post(f"/domains/{DOMAIN}/mailboxes/new/", form)
        except NotSent:
            continue
        except InDoubt:
            doubtful[f"{local}@{DOMAIN}"] = (password, quota)
            stats.count(stats.doubts, "create")
            continue
        if status == 302 and location == f"/domains/{DOMAIN}/":
            created[f"{local}@{DOMAIN}"] = (password, quota)
            stats.count(stats.accepted, "create")
        else:
            stats.count(stats.refused, f"create: {status} {form_errors(html)}")


def quota_form(local: str, value: int) -> dict:
    return {
        "display_name": f"Bench user {local}",
        "quota_mb": str(value),
        "active": "on",
        "password1": "",
        "password2": "",
    }


def quota_editor(number: int, port: int, stats: Stats, locals_: list[str], quotas: dict[str, History]) -> None:
    admin = Admin(port, stats)
    edits = Counter()
    for k in range(10**6):
        think()
        local = locals_[k % len(locals_)]
        edits[local] += 1
        # Nonzero quotas only grow, so a smaller one showing up later in the file is a revert.
        value = 0 if edits[local] % 4 == 0 else 100 + edits[local]
        try:
            status, location, html = admin.post(f"/domains/{DOMAIN}/mailboxes/{local}/", quota_form(local, value))
        except NotSent:
            edits[local] -= 1
            continue
        except InDoubt:
            quotas[local].changes.append((value, "doubt"))
            stats.count(stats.doubts, "quota")
            continue
        if status == 302 and location == f"/domains/{DOMAIN}/":
            quotas[local].changes.append((value, "accepted"))
            stats.count(stats.accepted, "quota")
        else:
            stats.count(stats.refused, f"quota: {status} {form_errors(html)}")


def password_changer(number: int, port: int, stats: Stats, locals_: list[str], passwords: dict[str, History]) -> None:
    retired: set[str] = set()
    for k in range(10**6):
        think()
        local = locals_[k % len(locals_)]
        if local in retired:
            continue
        history, address = passwords[local], f"{local}@{DOMAIN}"
        browser = Browser(port, stats)
        # After a change in doubt the client does not know its password: it tries each.
        try:
            current = next(
                (p for p in reversed(history.acceptable()) if browser.sign_in(address, p) == "/account/"), None
            )
        except InDoubt:
            continue
        if current is None:
            stats.count(stats.refused, "sign-in refused with every password this user may have")
            retired.add(local)
            continue
        if len(history.acceptable()) > 1:  # the doubt is settled: this is the password the panel holds
            history.changes.append((current, "accepted"))
        new = f"pw {secrets.token_urlsafe(12)}"
        form = {"current_password": current, "password1": new, "password2": new}
        try:
            status, location, html = browser.request("POST", "/account/", form)
        except InDoubt:
            history.changes.append((new, "doubt"))
            stats.count(stats.doubts, "password")
            continue
        if status == 302 and location == "/account/":
            history.changes.append((new, "accepted"))
            stats.count(stats.accepted, "password")
        else:
            stats.count(stats.refused, f"password: {status} {form_errors(html)}")


def client(target, *args) -> None:
    try:
        target(*args)
    except RunOver:
        pass
    except Exception as e:  # a broken client must not hang the run; report it
        print(f"  !! client {target.__name__} stopped: {type(e).__name__}: {e}", file=sys.stderr, flush=True)


def read_users() -> dict[str, tuple[str, int]]:
    """address → (hash, quota MB, 0 when unlimited), from the users file the helper installed."""
    found = {}
    for line in USERS_FILE.read_text().splitlines():
        address, crypt, *_, extra = line.split(":", 7)
        quota = re.search(r"userdb_quota_rule=\*:storage=(\d+)M", extra)
        found[address] = (crypt.removeprefix("{CRYPT}"), int(quota[1]) if quota else 0)
    return found


class Sampler(threading.Thread):
    """Reads the installed users file every 0.2 s: a hash that comes back after another replaced
    it, or a nonzero quota smaller than one seen before, is a change reverted for a while."""

    def __init__(self, watched: list[str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.watched, self.stop = watched, stop
        self.hashes: dict[str, list[str]] = defaultdict(list)
        self.top_quota: dict[str, int] = defaultdict(int)
        self.reverts: list[str] = []
        self.samples = 0

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.sample()

    def sample(self) -> None:
        try:
            users = read_users()
        except (FileNotFoundError, ValueError):
            return
        self.samples += 1
        for address in self.watched:
            if address not in users:
                continue
            hashed, quota = users[address]
            seen = self.hashes[address]
            if hashed in seen[:-1]:
                self.reverts.append(f"{address}: its password went back to an earlier one")
            if not seen or seen[-1] != hashed:
                seen.append(hashed)
            if 0 < quota < self.top_quota[address]:
                self.reverts.append(f"{address}: quota {quota}M after {self.top_quota[address]}M")
            self.top_quota[address] = max(self.top_quota[address], quota)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    """The processes this run starts, each restartable, all stopped by close()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.helper_stack = ExitStack()
        self.helper: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.gunicorn: subprocess.Popen | None = None
        LOGS.mkdir(parents=True, exist_ok=True)

    def log(self, name: str):
        return open(LOGS / name, "ab")

    def start_helper(self) -> None:
        self.helper_stack.close()
        # A killed helper leaves its socket behind; without it helper_process waits for the new one.
        SOCKET.unlink(missing_ok=True)
        self.helper = self.helper_stack.enter_context(
            helper_process(sandbox_config(ROOT_DIR, STAGING, SOCKET), VAR / "helper.json")
        )

    def start_worker(self) -> None:
        with self.log("applyworker.log") as log:
            command = [sys.executable, str(ROOT / "manage.py"), "applyworker"]
            self.worker = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=log, stderr=log)

    def start_gunicorn(self) -> None:
        command = [
            str(ROOT / ".venv/bin/gunicorn"),
            "mailadmin.wsgi",
            "--workers=3",
            f"--bind=127.0.0.1:{self.port}",
            "--error-logfile=-",
        ]
        with self.log("gunicorn.log") as log:
            # Its own process group: gunicorn and its workers, and nothing else, for the final stop.
            self.gunicorn = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.gunicorn.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: see {LOGS / 'gunicorn.log'}") from None
                time.sleep(0.1)

    def kill_worker(self) -> None:
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait()
        time.sleep(RESTART_AFTER)
        self.start_worker()

    def kill_helper(self) -> None:
        self.helper.send_signal(signal.SIGKILL)
        self.helper.wait()
        time.sleep(RESTART_AFTER)
        self.start_helper()

    def gunicorn_workers(self) -> list[int]:
        """The master's children, from /proc (field 4 of /proc/PID/stat is the parent's pid)."""
        workers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.gunicorn.pid:
                workers.append(int(stat.parent.name))
        return workers

    def close(self) -> None:
        for process in (self.worker, self.gunicorn):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.worker, self.gunicorn):
            if process is None:
                continue
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.gunicorn is not None:
            try:  # any worker its master left behind
                os.killpg(self.gunicorn.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.helper is not None and self.helper.poll() is None:
            self.helper.send_signal(signal.SIGCONT)  # a stopped helper would never act on SIGTERM
        self.helper_stack.close()


@dataclass
class Kill:
    at: float  # time.time()
    what: str
    mid_apply: bool
    stall: float | None = None


def open_generation() -> Generation | None:
    close_old_connections()
    return Generation.objects.filter(ok=None).order_by("-pk").first()


def wait_for_open_apply(staged: bool, limit: float = 2.0) -> bool:
    """Wait (a little) until an apply is under way; staged: until the helper has its files."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        generation = open_generation()
        if generation and (not staged or staged_dir(generation.pk).exists()):
            time.sleep(random.uniform(0, 0.03))
            return True
        time.sleep(0.01)
    return False


def fault_plan(duration: float) -> list[tuple[float, str]]:
    plan, t = [], 0.0
    while (t := t + random.uniform(*WORKER_KILL_EVERY)) < duration * FAULTS_UNTIL:
        plan.append((t, "apply worker"))
    plan += [(duration * f + random.uniform(-3, 3), "helper") for f in HELPER_KILLS_AT]
    plan.append((duration * GUNICORN_KILL_AT + random.uniform(-3, 3), "gunicorn worker"))
    return sorted(plan)


def run_faults(services: Services, stats: Stats, duration: float, threads: list[threading.Thread]) -> list[Kill]:
    kills, worker_kills = [], 0
    for offset, what in fault_plan(duration):
        while time.monotonic() - stats.started < offset:
            if not any(t.is_alive() for t in threads):
                return kills
            time.sleep(0.05)
        if what == "apply worker":
            worker_kills += 1
            mid = wait_for_open_apply(staged=False) if worker_kills % 2 else open_generation() is not None
            kills.append(Kill(time.time(), what, mid))
            services.kill_worker()
        elif what == "helper":
            mid = wait_for_open_apply(staged=True)
            kills.append(Kill(time.time(), what, mid))
            services.kill_helper()
        else:
            pid = random.choice(services.gunicorn_workers())
            os.kill(pid, signal.SIGKILL)  # its master forks a new one
            kills.append(Kill(time.time(), what, False))
    return kills


def quiet_probe(services: Services, what: str, local: str, value: int) -> tuple[bool, float | None, float | None]:
    """One quota change with none after it, its apply cut by a kill of `what` ("helper" or
    "apply worker"): whether the kill found the apply open, and the seconds until the change
    was in the users file and until the panel recorded it applied (None: not within PROBE_WAIT)."""
    admin = Admin(services.port, Stats())
    admin.browser.sign_in(ADMIN, ADMIN_PASSWORD)
    if what == "helper":  # held, so that the kill surely finds the apply waiting on it
        services.helper.send_signal(signal.SIGSTOP)
    status, location, _ = admin.post(f"/domains/{DOMAIN}/mailboxes/{local}/", quota_form(local, value))
    saved = time.monotonic()
    assert status == 302 and location == f"/domains/{DOMAIN}/", (status, location)
    mid = wait_for_open_apply(staged=what == "helper")
    if what == "helper":
        services.kill_helper()
    else:
        services.kill_worker()
    in_file = recorded = None
    while time.monotonic() - saved < PROBE_WAIT and (in_file is None or recorded is None):
        try:
            if in_file is None and read_users().get(f"{local}@{DOMAIN}", ("", None))[1] == value:
                in_file = time.monotonic() - saved
        except (FileNotFoundError, ValueError):
            pass
        if recorded is None and caught_up():
            recorded = time.monotonic() - saved
        time.sleep(0.05)
    return mid, in_file, recorded


def settle(kills: list[Kill], start: float, end: float) -> tuple[float, float]:
    """Each kill's stall: seconds until the next successful apply finished. Returns the longest
    gap between successful applies while the clients ran (time.time() from start to end; from the
    first one, as no change comes before the clients have signed in), and when it began."""
    close_old_connections()
    finished = sorted(f.timestamp() for f in Generation.objects.filter(ok=True).values_list("finished_at", flat=True))
    for kill in kills:
        kill.stall = next((f - kill.at for f in finished if f > kill.at), None)
    during = [f for f in finished if start < f < end] + [end]
    return max((b - a, a - start) for a, b in zip(during, during[1:], strict=False))


def caught_up() -> bool:
    close_old_connections()
    state = ConfigState.objects.get(pk=1)
    return state.applied == state.wanted and state.last_ok


def verify(created: dict, doubtful: dict, quotas: dict[str, History], passwords: dict[str, History]) -> dict:
    users = read_users()
    lost, reverted, checked = [], [], 0
    for address, (password, quota) in created.items():
        checked += 1
        if address not in users:
            lost.append(f"created {address} is missing")
            continue
        hashed, found = users[address]
        if not mailpasswords.check_hash(password, hashed):
            lost.append(f"created {address}: not the password it was created with")
        if found != quota:
            lost.append(f"created {address}: quota {found}M, created with {quota}M")
    for local, history in quotas.items():
        address = f"{local}@{DOMAIN}"
        found = users[address][1] if address in users else None
        checked += bool(history.changes)
        if found in history.acceptable():
            continue
        (reverted if found in history.earlier() else lost).append(
            f"{address}: quota {found}M, last set {history.acceptable()[0]}M"
        )
    for local, history in passwords.items():
        address = f"{local}@{DOMAIN}"
        checked += bool(history.changes)
        if address not in users:
            lost.append(f"{address} is missing")
            continue
        hashed = users[address][0]
        if any(mailpasswords.check_hash(p, hashed) for p in history.acceptable()):
            continue
        if any(mailpasswords.check_hash(p, hashed) for p in history.earlier()):
            reverted.append(f"{address}: the file has an earlier password than the last one set")
        else:
            lost.append(f"{address}: the file has none of the passwords set")
    in_doubt_present = sum(address in users for address in doubtful)
    return {"lost": lost, "reverted": reverted, "checked": checked, "doubtful_created": in_doubt_present}


def log_lines(name: str, pattern: str) -> list[str]:
    path = LOGS / name
    if not path.exists():
        return []
    return [line for line in path.read_text(errors="replace").splitlines() if re.search(pattern, line)]


def setup() -> tuple[list[str], dict[str, History], dict[str, History]]:
    fresh_database()
    actions.create_admin(ADMIN, ADMIN_PASSWORD, actor=COMMAND_LINE, superadmin=True)
    domain = create_domain(DOMAIN, actor=COMMAND_LINE)
    locals_, quotas, passwords = [], {}, {}
    for i in range(MAILBOXES):
        local, password = f"user{i:03d}", f"initial password {i} {secrets.token_urlsafe(6)}"
        actions.create_mailbox(
            domain, local, password, actor=COMMAND_LINE, display_name=f"Bench user {local}", quota_mb=0
        )
        locals_.append(local)
        quotas[local], passwords[local] = History(0), History(password)
    connection.close()
    return locals_, quotas, passwords


def seconds(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else f"(not within {PROBE_WAIT} s)"


def report(stats: Stats, kills: list[Kill], result: dict, sampler: Sampler, extra: dict) -> None:
    elapsed = extra["load_seconds"]
    five_xx = sum(n for status, n in stats.answers.items() if isinstance(status, int) and status >= 500)
    no_answer = sum(n for status, n in stats.answers.items() if not isinstance(status, int))
    accepted = sum(stats.accepted.values())
    print(f"\n  load and faults: {elapsed:.0f} s, 12 clients, gunicorn with 3 workers, SQLite, the real helper")
    print(
        f"  machine: {os.cpu_count()} CPUs; load average (1, 5 min) at start {extra['load_start']}, at end {extra['load_end']}"
    )
    print(
        f"  requests {stats.requests} ({stats.requests / elapsed:.0f}/s); answers: "
        + ", ".join(f"{status}: {n}" for status, n in sorted(stats.answers.items(), key=str))
    )
    print(f"  {'request':48} {'count':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for kind, times in sorted(stats.times.items()):
        print(
            f"  {kind:48} {len(times):6d} {percentile(times, 0.5):7.3f} {percentile(times, 0.95):7.3f} {max(times):7.3f}"
        )
    print(
        f"  accepted changes {accepted} (created {stats.accepted['create']}, quotas {stats.accepted['quota']}, "
        f"passwords {stats.accepted['password']}); in doubt {sum(stats.doubts.values())} {dict(stats.doubts)}"
    )
    for what, n in stats.refused.items():
        print(f"  !! refused {n}x: {what}")
    print(f"  lost changes                  {len(result['lost'])}")
    print(f"  silently reverted (final)     {len(result['reverted'])}")
    print(f"  reverted for a while (sampled {sampler.samples} times) {len(sampler.reverts)}")
    print(f"  5xx answers                   {five_xx}   (no answer at all: {no_answer})")
    for line in result["lost"][:10] + result["reverted"][:10] + sampler.reverts[:10]:
        print(f"  !! {line}")
    for at, path, status in stats.server_errors[:10]:
        print(f"  !! {at:6.1f} s  {status}  {path}")
    stalls = [k.stall for k in kills if k.what != "gunicorn worker" and k.stall is not None]
    worst = max(stalls, default=float("nan"))
    print(f"  longest stall of applies after a kill, under load: {worst:.2f} s")
    print(f"  {'kill':22} {'at s':>6} {'mid-apply':>9} {'next ok apply s':>15}")
    for kill in kills:
        stall = f"{kill.stall:15.2f}" if kill.stall is not None else f"{'never':>15}"
        print(f"  {kill.what:22} {kill.at - extra['wall_start']:6.1f} {'yes' if kill.mid_apply else 'no':>9} {stall}")
    generations = extra["generations"]
    print(
        f"  applies: {generations['total']} generations, {generations['ok']} ok, {generations['failed']} failed "
        f"{dict(generations['errors'])}"
    )
    print(f"  longest gap between ok applies under load: {extra['longest_gap']:.2f} s (from {extra['gap_at']:.1f} s)")
    print(f"  caught up {extra['catch_up']:.2f} s after the last request; checked {result['checked']} mailboxes")
    if result["doubtful_created"] or extra["doubtful"]:
        print(f"  creations in doubt: {extra['doubtful']}, of which present: {result['doubtful_created']}")
    print("  stall after a kill with no change after it (one quota change, its apply killed):")
    for what, mid, in_file, recorded in extra["probes"]:
        hit = "killed mid-apply" if mid else "the kill missed the apply"
        print(
            f"    {what:14} {hit:26} in the users file after {seconds(in_file)}, recorded applied after {seconds(recorded)}"
        )
    errors = extra["gunicorn_errors"]
    print(f"  gunicorn log: {len(errors)} error lines" + "".join(f"\n  !! {line[:160]}" for line in errors[:8]))
    print(
        "  (stall: from the kill until the next successful apply finished, Generation.finished_at; "
        "mid-apply: a generation was open when the kill came)"
    )


def main() -> None:
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 90.0
    hard_limit = int(duration + FINAL_WAIT + 2 * PROBE_WAIT + 240)

    def out_of_time(*_) -> None:
        raise TimeoutError(f"bench/faults.py ran over its {hard_limit} s limit")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below, then stop
    signal.alarm(hard_limit)
    locals_, quotas, passwords = setup()
    services = Services(free_port())
    stats = Stats()
    sampler = Sampler([f"{local}@{DOMAIN}" for local in locals_], stats.stop)
    created, doubtful = {}, {}
    try:
        services.start_helper()
        services.start_worker()
        services.start_gunicorn()
        deadline = time.monotonic() + 30
        while not caught_up():  # the first apply, before any client
            assert time.monotonic() < deadline, "the first apply did not happen"
            time.sleep(0.1)
        load_start = " ".join(f"{v:.2f}" for v in os.getloadavg()[:2])
        quarter = len(locals_) // QUOTA_EDITORS
        threads = [
            threading.Thread(target=client, args=(creator, n, services.port, stats, created, doubtful))
            for n in range(CREATORS)
        ]
        threads += [
            threading.Thread(
                target=client, args=(quota_editor, n, services.port, stats, locals_[n::QUOTA_EDITORS], quotas)
            )
            for n in range(QUOTA_EDITORS)
        ]
        threads += [
            threading.Thread(
                target=client,
                args=(password_changer, n, services.port, stats, locals_[n * quarter : (n + 1) * quarter], passwords),
            )
            for n in range(PASSWORD_CHANGERS)
        ]
        stats.started, wall_start = time.monotonic(), time.time()
        sampler.start()
        for thread in threads:
            thread.daemon = True
            thread.start()
        stop_at = threading.Timer(duration, stats.stop.set)
        stop_at.daemon = True
        stop_at.start()
        kills = run_faults(services, stats, duration, threads)
        for thread in threads:
            thread.join()
        stop_at.cancel()
        stats.stop.set()
        load_seconds, wall_end = time.monotonic() - stats.started, time.time()
        last_request = time.monotonic()
        while not caught_up() and time.monotonic() - last_request < FINAL_WAIT:
            time.sleep(0.1)
        catch_up = time.monotonic() - last_request
        sampler.join()
        sampler.sample()
        result = verify(created, doubtful, quotas, passwords)
        longest_gap, gap_at = settle(kills, wall_start, wall_end)
        errors = Counter(
            re.sub(r"\d+", "N", e.split(":")[0])[:60]
            for e in Generation.objects.filter(ok=False).values_list("error", flat=True)
        )
        extra = {
            "load_seconds": load_seconds,
            "load_start": load_start,
            "load_end": " ".join(f"{v:.2f}" for v in os.getloadavg()[:2]),
            "wall_start": wall_start,
            "catch_up": catch_up,
            "longest_gap": longest_gap,
            "gap_at": gap_at,
            "doubtful": len(doubtful),
            "generations": {
                "total": Generation.objects.count(),
                "ok": Generation.objects.filter(ok=True).count(),
                "failed": Generation.objects.filter(ok=False).count(),
                "errors": errors,
            },
            "gunicorn_errors": log_lines("gunicorn.log", r"Traceback|\[ERROR\]|Error|locked"),
        }
        extra["probes"] = [
            (what, *quiet_probe(services, what, locals_[0], value))
            for what, value in [("apply worker", 900_001), ("helper", 900_002)]
        ]
        report(stats, kills, result, sampler, extra)
        if not caught_up():
            print(f"  !! the worker had not applied everything {FINAL_WAIT} s after the last request")
    finally:
        signal.alarm(0)
        stats.stop.set()
        services.close()
        connection.close()
        shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
