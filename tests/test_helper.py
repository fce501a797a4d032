"""The privileged helper installs only what it should, atomically, and keeps the old generation
live when anything fails. Run unprivileged against a sandbox root, as in development."""

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from accounts.models import AppPassword
from core.mailhost import HostConfig
from export import render as renderer
from export.render import render
from export.snapshot import MailboxRow, Snapshot
from helper import helper
from helper.helper import Helper, Refused
from tests.helpers import helper_process

HASH = "$y$j9T$FOqg79T.1aaakbQPXOu.H1$56Z60oKeb7Ivn04HUPUTrtofaOGgpVTQ8PqcEchW8FC"


def files_for(root: Path, mailboxes: int = 3, quota: int = 0) -> dict[str, bytes]:
    snapshot = Snapshot(
        domains=("example.org",),
        mailboxes=tuple(MailboxRow(f"user{n}", "example.org", HASH, quota) for n in range(mailboxes)),
    )
    return render(snapshot, HostConfig("mail.example.org", root))


def stage_raw(staging: Path, number: int, files: dict[str, bytes], manifest: dict | None = None) -> Path:
    import hashlib

    base = staging / f"gen-{number}"
    for rel, data in files.items():
        path = base / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = manifest or {
        "generation": number,
        "files": {rel: hashlib.sha256(d).hexdigest() for rel, d in files.items()},
    }
    (base / "manifest.json").write_text(json.dumps(manifest))
    return base


@pytest.fixture
def sandbox(tmp_path):
    root, staging = tmp_path / "root", tmp_path / "staging"
    root.mkdir()
    staging.mkdir()
    config = {"root": str(root), "staging": str(staging), "socket": str(tmp_path / "helper.sock"), "privileged": False}
    return root, staging, config


def installed(root: Path) -> dict[str, bytes]:
    current = root / "etc/mailadmin/current"
    return {
        str(p.relative_to(current)): p.read_bytes()
        for p in current.rglob("*")
        if p.is_file() and p.name != "GENERATION"
    }


def test_it_installs_a_generation_and_points_the_daemons_paths_at_it(sandbox):
    root, staging, config = sandbox
    files = files_for(root)
    stage_raw(staging, 1, files)
    answer = Helper(config).handle({"op": "apply", "generation": 1})
    assert answer["ok"] and answer["installed_as"] == "1"
    assert installed(root) == files
    assert (root / "etc/smtpd.conf").resolve() == (root / "etc/mailadmin/generations/1/smtpd/smtpd.conf")
    assert (root / "etc/dovecot/users").read_bytes() == files["dovecot/users"]
    modes = {
        rel: oct(os.stat(root / "etc/mailadmin/current" / rel).st_mode & 0o777)
        for rel in ["dovecot/users", "dovecot/passwords", "smtpd/virtuals", "smtpd/filter-rspamd", "smtpd/smtpd.conf"]
    }
    assert modes == {
        "dovecot/users": "0o640",
        "dovecot/passwords": "0o640",
        "smtpd/virtuals": "0o640",
        "smtpd/filter-rspamd": "0o755",
        "smtpd/smtpd.conf": "0o600",
    }


def test_a_file_found_at_a_daemon_path_is_kept_aside(sandbox):
    root, staging, config = sandbox
    (root / "etc/dovecot").mkdir(parents=True)
    (root / "etc/dovecot/dovecot.conf").write_text("# Debian's own\n")
    stage_raw(staging, 1, files_for(root))
    Helper(config).handle({"op": "apply", "generation": 1})
    assert (root / "etc/dovecot/dovecot.conf.mailadmin-orig").read_text() == "# Debian's own\n"
    assert (root / "etc/dovecot/dovecot.conf").is_symlink()


def test_the_first_apply_over_a_host_built_by_hand_waits_for_adoption_or_a_yes(sandbox):
    root, staging, config = sandbox
    (root / "etc/smtpd").mkdir(parents=True)
    (root / "etc/smtpd/domains").write_text("example.net\n")
    (root / "etc/dovecot").mkdir(parents=True)
    (root / "etc/dovecot/users").write_text(f"bob@example.net:{HASH}::::::\n")
    (root / "etc/mail").mkdir()
    (root / "etc/mail/vusers").write_text("bob@example.net vmail\n")
    (root / "etc/smtpd/vusers").symlink_to(root / "etc/mail/vusers")  # a link made by hand counts too
    stage_raw(staging, 1, files_for(root))

    def ask(request: dict) -> dict:  # as the socket does: the refusal is an answer that says what was found
        return helper.answer(Helper(config), json.dumps(request).encode())

    answer = ask({"op": "apply", "generation": 1})
    assert not answer["ok"] and answer["hand_built"] == [
        "/etc/dovecot/users",
        "/etc/smtpd/domains",
        "/etc/smtpd/vusers",
    ]
    assert "Adopt the host first" in answer["error"]
    assert not (root / "etc/mailadmin/current").exists() and not (root / "etc/smtpd.conf").exists()
    assert (root / "etc/smtpd/domains").read_text() == "example.net\n"

    assert not ask({"op": "apply", "generation": 1, "replace_hand_built": "yes"})["ok"]
    answer = ask({"op": "apply", "generation": 1, "replace_hand_built": True})
    assert answer["ok"], answer
    assert (root / "etc/smtpd/domains.mailadmin-orig").read_text() == "example.net\n"
    assert (root / "etc/dovecot/users").is_symlink()


def test_once_the_panel_has_applied_its_own_tables_are_no_hand_built_host(sandbox):
    root, staging, config = sandbox
    stage_raw(staging, 1, files_for(root))
    assert Helper(config).handle({"op": "apply", "generation": 1})["ok"]
    stage_raw(staging, 2, files_for(root, mailboxes=4))
    assert Helper(config).handle({"op": "apply", "generation": 2})["ok"]


@pytest.mark.parametrize(
    "tamper,message",
    [
        (lambda files, base: files.update({"../../../etc/passwd": b"x"}), "is not a file the helper installs"),
        (lambda files, base: files.update({"smtpd/evil.conf": b"x"}), "is not a file the helper installs"),
        (lambda files, base: files.pop("dovecot/users"), "lacks dovecot/users"),
    ],
)
def test_it_refuses_a_generation_outside_its_rules_and_changes_nothing(sandbox, tamper, message):
    root, staging, config = sandbox
    helper = Helper(config)
    stage_raw(staging, 1, files_for(root))
    helper.handle({"op": "apply", "generation": 1})
    before = installed(root)
    files = files_for(root, mailboxes=5)
    tamper(files, staging)
    stage_raw(staging, 2, files)
    with pytest.raises(Refused, match=message):
        helper.handle({"op": "apply", "generation": 2})
    assert installed(root) == before
    assert sorted(os.listdir(root / "etc/mailadmin/generations")) == ["1", "1.digests"]


def test_it_refuses_a_symlink_planted_in_staging(sandbox, tmp_path):
    root, staging, config = sandbox
    secret = tmp_path / "secret"
    secret.write_text("root-only secret")
    base = stage_raw(staging, 1, files_for(root))
    users = base / "files/dovecot/users"
    users.unlink()
    users.symlink_to(secret)
    with pytest.raises(Refused, match="cannot read staged dovecot/users"):
        Helper(config).handle({"op": "apply", "generation": 1})
    assert not (root / "etc/mailadmin/current").exists()


def test_it_refuses_a_file_changed_after_staging(sandbox):
    root, staging, config = sandbox
    base = stage_raw(staging, 1, files_for(root))
    (base / "files/dovecot/passwords").write_bytes(b"mallory@example.org:$y$forged\n")
    with pytest.raises(Refused, match="does not match its manifest"):
        Helper(config).handle({"op": "apply", "generation": 1})


def test_a_checker_that_says_no_keeps_the_previous_generation(sandbox, tmp_path):
    root, staging, config = sandbox
    helper = Helper(config)
    stage_raw(staging, 1, files_for(root))
    helper.handle({"op": "apply", "generation": 1})
    config["check"] = {
        "smtpd": [
            "sh",
            "-c",
            "grep -q user4@ \"$(dirname {smtpd_conf})/../..\" -r && echo 'no user4 here' && exit 1 || true",
        ]
    }
    helper = Helper(config)
    stage_raw(staging, 2, files_for(root, mailboxes=5))
    with pytest.raises(Refused, match="smtpd rejected the new configuration: no user4 here"):
        helper.handle({"op": "apply", "generation": 2})
    assert installed(root) == files_for(root)
    assert sorted(os.listdir(root / "etc/mailadmin/generations")) == ["1", "1.digests"]


def test_the_checkers_see_the_new_tables_not_the_live_ones(sandbox):
    root, staging, config = sandbox
    config["check"] = {"smtpd": ["sh", "-c", "grep -q user4@ $(sed -n 's/^table virtuals file://p' {smtpd_conf})"]}
    stage_raw(staging, 1, files_for(root, mailboxes=5))
    assert Helper(config).handle({"op": "apply", "generation": 1})["ok"]


def test_the_rspamd_check_keeps_the_modes_of_the_live_files_it_copies(sandbox, tmp_path):
    root, staging, config = sandbox
    live = tmp_path / "etc-rspamd"
    modes = {
        "local.d/secret.conf": 0o600,  # say, a controller password
        "local.d/shared.conf": 0o644,
        "override.d/worker-controller.inc": 0o640,
        "override.d/private/keys.conf": 0o600,
        "override.d/private": 0o700,
        "override.d": 0o750,
    }
    for rel, mode in sorted(modes.items(), key=lambda item: item[1] & 0o100):  # files before directories
        path = live / rel
        if mode & 0o100:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("enabled = true;\n")
        path.chmod(mode)
    seen = tmp_path / "seen-by-the-checker"
    config["rspamd_confdir"] = str(live)
    config["check"] = {
        "rspamd": ["sh", "-c", f"cd {{rspamd_confdir}} && find . -mindepth 1 -printf '%m %P\\n' > {seen}"]
    }
    stage_raw(staging, 1, files_for(root))
    assert Helper(config).handle({"op": "apply", "generation": 1})["ok"]
    checked = dict(reversed(line.split(" ", 1)) for line in seen.read_text().splitlines())
    assert {rel: int(checked[rel], 8) for rel in modes} == modes
    assert checked["local.d/dkim_signing.conf"] == "644"


def test_only_what_changed_is_reloaded(sandbox):
    root, staging, config = sandbox
    config["reload"] = {
        "dovecot": ["true", "dovecot"],
        "smtpd_table": ["true", "table", "{table}"],
        "smtpd_restart": ["true", "restart"],
        "rspamd": ["true", "rspamd"],
    }
    helper = Helper(config)
    stage_raw(staging, 1, files_for(root))
    first = helper.handle({"op": "apply", "generation": 1})
    assert first["reloaded"] == ["true dovecot", "true restart", "true rspamd"]
    stage_raw(staging, 2, files_for(root, quota=100))
    second = helper.handle({"op": "apply", "generation": 2})
    assert second["changed"] == ["dovecot/users"] and second["reloaded"] == ["true dovecot"]
    stage_raw(staging, 3, files_for(root, mailboxes=4, quota=100))
    third = helper.handle({"op": "apply", "generation": 3})
    assert third["reloaded"] == ["true dovecot", "true table virtuals", "true table senderaddrs"]


def test_a_failed_reload_switches_back_to_the_previous_generation(sandbox):
    root, staging, config = sandbox
    flag = root / "fail-once"
    config["reload"] = {"dovecot": ["sh", "-c", f"if [ -e {flag} ]; then rm {flag}; exit 1; fi"]}
    helper = Helper(config)
    stage_raw(staging, 1, files_for(root))
    helper.handle({"op": "apply", "generation": 1})
    flag.touch()
    stage_raw(staging, 2, files_for(root, mailboxes=5))
    with pytest.raises(Refused, match="the previous generation is live again"):
        helper.handle({"op": "apply", "generation": 2})
    assert installed(root) == files_for(root)


def test_it_survives_being_killed_at_any_point_of_an_apply(sandbox):
    """Killed 100 times at random moments: "current" is always one complete generation."""
    root, staging, config = sandbox
    generations = {1: files_for(root, mailboxes=2000), 2: files_for(root, mailboxes=2500, quota=7)}
    for number, files in generations.items():
        stage_raw(staging, number, files)
    Helper(config).handle({"op": "apply", "generation": 1})
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        Helper(config).handle({"op": "apply", "generation": 2})
        os._exit(0)
    os.waitpid(pid, 0)
    duration = time.monotonic() - started  # one whole apply in a forked child, as below
    complete = [generations[1], generations[2]]
    random.seed(20261125)
    outcomes = set()
    for attempt in range(100):
        pid = os.fork()
        if pid == 0:  # the child is the helper mid-apply; the parent kills it with SIGKILL
            try:
                Helper(config).handle({"op": "apply", "generation": 1 + attempt % 2})
            finally:
                os._exit(0)
        time.sleep(random.uniform(0, duration * 1.5))
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        now = installed(root)
        assert now in complete, f"attempt {attempt}: a mix of generations is live"
        outcomes.add(complete.index(now))
    assert outcomes == {0, 1}  # the kills landed both before and after the switch
    Helper(config)  # a restarted helper clears half-written generations
    assert not [n for n in os.listdir(root / "etc/mailadmin/generations") if n.endswith(".tmp")]


@pytest.fixture
def running_helper(sandbox):
    root, staging, config = sandbox
    socket_dir = Path(tempfile.mkdtemp(prefix="helper-test-"))
    socket_dir.chmod(0o755)  # reachable by another user, for the credential test
    config["socket"] = str(socket_dir / "helper.sock")
    config["read_timeout"] = 1
    with helper_process(config, socket_dir / "helper.json", stdout=subprocess.PIPE):
        yield root, staging, config
    shutil.rmtree(socket_dir, ignore_errors=True)


def ask(socket_path: str, request: dict | bytes, timeout: float = 60) -> dict:
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(socket_path)
        connection.settimeout(timeout)
        try:
            connection.sendall(request if isinstance(request, bytes) else json.dumps(request).encode() + b"\n")
        except BrokenPipeError:
            pass  # the helper answered and hung up before reading everything: its answer is there to read
        return json.loads(connection.makefile().readline())


def test_concurrent_applies_never_interleave(running_helper):
    root, staging, config = running_helper
    variants = {n: files_for(root, mailboxes=300 + n) for n in range(1, 9)}
    for number, files in variants.items():
        stage_raw(staging, number, files)
    answers = []
    threads = [
        threading.Thread(target=lambda n=n: answers.append(ask(config["socket"], {"op": "apply", "generation": n})))
        for n in variants
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a["ok"] for a in answers) and len(answers) == 8
    generations = root / "etc/mailadmin/generations"
    for name in filter(str.isdigit, os.listdir(generations)):
        directory = generations / name
        number = int((directory / "GENERATION").read_text())
        files = {
            str(p.relative_to(directory)): p.read_bytes()
            for p in directory.rglob("*")
            if p.is_file() and p.name != "GENERATION"
        }
        assert files == variants[number]


def test_it_answers_only_well_formed_requests(running_helper):
    _, _, config = running_helper
    assert ask(config["socket"], {"op": "ping"}) == {"ok": True}
    assert (
        ask(config["socket"], {"op": "apply", "generation": "1; rm -rf /"})["error"]
        == "generation must be a positive whole number"
    )
    assert (
        ask(config["socket"], {"op": "reload", "service": "sshd"})["error"]
        == "service must be dovecot, smtpd or rspamd"
    )
    assert ask(config["socket"], b"x" * 5000 + b"\n")["error"] == "request too long"
    assert ask(config["socket"], b"[1, 2]\n")["error"] == "request must be a JSON object"
    assert "no valid manifest" in ask(config["socket"], {"op": "apply", "generation": 7})["error"]


def test_an_idle_connection_does_not_keep_another_client_waiting(running_helper):
    _, _, config = running_helper
    with socket.socket(socket.AF_UNIX) as idle:
        idle.connect(config["socket"])  # and sends nothing
        started = time.monotonic()
        assert ask(config["socket"], {"op": "ping"}, timeout=5) == {"ok": True}
        assert time.monotonic() - started < 0.5
        idle.settimeout(5)
        answer = json.loads(idle.makefile().readline())
    assert answer == {"ok": False, "error": "no request within 1 s"}
    assert 0.9 < time.monotonic() - started < 3  # dropped after its read timeout


@pytest.mark.parametrize(
    "depth,error",
    [
        (2000, "request must be a flat JSON object: nested too deep"),  # fits in 4 KiB
        (100_000, "request too long"),
    ],
)
def test_deeply_nested_json_gets_an_error_answer_and_the_helper_serves_on(running_helper, depth, error):
    _, _, config = running_helper
    assert ask(config["socket"], b"[" * depth + b"]" * depth + b"\n", timeout=5) == {"ok": False, "error": error}
    assert ask(config["socket"], {"op": "ping"}, timeout=5) == {"ok": True}


def test_a_request_nested_beyond_a_flat_object_is_refused(running_helper):
    _, _, config = running_helper
    nested = {"op": {"op": {"op": {"op": {"op": "ping"}}}}}
    assert ask(config["socket"], nested)["error"] == "request must be a flat JSON object: nested too deep"
    assert ask(config["socket"], {"op": "apply", "generation": [[[[1]]]]})["error"].endswith("nested too deep")
    assert ask(config["socket"], {"op": "ping", "note": "[[[[[[[[ in a string is not nesting"}) == {"ok": True}


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root; CI runs as root")
def test_it_refuses_a_client_of_another_uid(running_helper):
    _, _, config = running_helper
    os.chmod(config["socket"], 0o666)  # let the connection through, so the credential check is what refuses
    code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({config['socket']!r}); print(s.makefile().readline())"
    result = subprocess.run(["/usr/bin/python3", "-c", code], user="nobody", capture_output=True, text=True, cwd="/")
    assert json.loads(result.stdout) == {"ok": False, "error": "not allowed"}


def test_opensmtpd_checks_passwords_through_the_helpers_own_pam_file(sandbox):
    root, staging, config = sandbox
    pam = root / "etc/pam.d/smtpd"
    pam.parent.mkdir(parents=True)
    pam.write_text("@include common-auth\n")  # what a package might have put there
    stage_raw(staging, 1, files_for(root))
    Helper(config).handle({"op": "apply", "generation": 1})
    current = root / "etc/mailadmin/current"
    lines = pam.read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        f"auth sufficient pam_pwdfile.so nodelay pwdfile={current}/dovecot/passwords",
        *(f"auth sufficient pam_pwdfile.so nodelay pwdfile={current}/dovecot/app-passwords-{n}" for n in range(1, 11)),
        "auth required pam_deny.so",
        "account required pam_permit.so",
    ]
    assert oct(pam.stat().st_mode & 0o777) == "0o644"
    assert (root / "etc/pam.d/smtpd.mailadmin-orig").read_text() == "@include common-auth\n"
    # Every slot file the PAM lines name is in the generation (empty slots too): one number of slots.
    assert helper.APP_PASSWORD_SLOTS == renderer.APP_PASSWORD_SLOTS == AppPassword.SLOTS
    assert all((current / line.split("pwdfile=")[1].removeprefix(f"{current}/")).is_file() for line in lines[2:13])
