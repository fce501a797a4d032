"""End-to-end checks of a deployed mail host, as its admin and a mail client see it.

Run by scripts/test-deploy against the compose stack and against the production install, from
a test container: the panel through the deploy nginx over TLS (certificates of a test CA, the
panel in its production settings), then IMAP and SMTP AUTH on the mail daemons. Standard library,
Debian's python3-dkim and python3-dnspython, and Debian's nsd (the nameserver the panel's "Check
now" and the DKIM verifier ask, serving the zone the panel offers for download).

    e2e.py setup    sign in, add a domain and a mailbox, publish its zone, mail with a valid
                    DKIM signature, change the password and see the old one refused
    e2e.py verify   after a restart: the same admin, domain, mailbox, password and message are
                    there, and a new message goes through, signed

Exits non-zero at the first failed check, saying which.
"""

import argparse
import html.parser
import http.client
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from email.message import EmailMessage
from pathlib import Path

import dkim
import dns.exception
import dns.message
import dns.query
import dns.rdatatype

DOMAIN = "example.com"
MAILBOX = f"alice@{DOMAIN}"
FIRST_PASSWORD = "first mail password 1"
SECOND_PASSWORD = "second mail password 2"
STARTED = time.monotonic()


class Failed(Exception):
    pass


def step(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


def check(condition: object, text: str) -> None:
    if not condition:
        raise Failed(text)


def wait_for(what: str, probe, timeout: float, interval: float = 0.5):
    """probe() until it returns something true (returned) or the timeout passes (Failed, with the last error)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
            if result:
                return result
            last = result
        except (
            OSError,
            Failed,
            imaplib.IMAP4.error,
            smtplib.SMTPException,
            http.client.HTTPException,
            dns.exception.DNSException,
        ) as e:
            last = e
        if time.monotonic() > deadline:
            raise Failed(f"{what}: not within {timeout:.0f} s (last: {last!r})")
        time.sleep(interval)


# --- names: in the compose network they resolve; on the production host they are 127.0.0.1 ----

_getaddrinfo = socket.getaddrinfo
FIXED: dict[str, str] = {}


def _fixed_getaddrinfo(host, *args, **kwargs):
    return _getaddrinfo(FIXED.get(host, host), *args, **kwargs)


socket.getaddrinfo = _fixed_getaddrinfo


# --- the panel, through nginx over TLS ---------------------------------------------------------


class Forms(html.parser.HTMLParser):
    """Every <form> of a page: its action, method and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.forms[-1]["fields"].setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1]["fields"][self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1]["fields"][a["name"]] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


class Panel:
    """A browser without JavaScript: cookies, forms with their CSRF token, redirects followed."""

    def __init__(self, host: str, context: ssl.SSLContext) -> None:
        self.host, self.context = host, context
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, str]:
        connection = http.client.HTTPSConnection(self.host, 443, context=self.context, timeout=30)
        headers = {"Host": self.host, "User-Agent": "mailadmin-e2e"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"https://{self.host}",
                "Referer": f"https://{self.host}{path}",
            }
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
                deleted = "max-age=0" in value.lower()
                check(deleted or "secure" in value.lower(), f"cookie {name} is sent without Secure: {value}")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def get(self, path: str, expect: int = 200) -> str:
        for _ in range(5):
            status, headers, text = self.request("GET", path)
            if status in (301, 302, 303):
                path = urllib.parse.urlsplit(headers["location"]).path or "/"
                continue
            check(status == expect, f"GET {path}: {status}, wanted {expect}: {text[:500]}")
            return text
        raise Failed(f"GET {path}: too many redirects")

    def submit(self, page_path: str, action: str, fields: dict, expect_redirect: bool = True) -> str:
        """Fill in the form whose action is `action` on `page_path` and send it, as a browser would."""
        parser = Forms()
        parser.feed(self.get(page_path))
        matching = [f for f in parser.forms if (f["action"] or page_path) == action]
        check(matching, f"no form posting to {action} on {page_path} (forms: {[f['action'] for f in parser.forms]})")
        form = matching[0]
        status, headers, text = self.request("POST", action, form["fields"] | fields)
        if status in (301, 302, 303):
            return self.get(urllib.parse.urlsplit(headers["location"]).path or "/")
        check(not expect_redirect, f"POST {action}: {status}, not a redirect: {errors(text) or text[:800]}")
        return text

    def sign_in(self, username: str, password: str) -> str:
        self.cookies.clear()
        return self.submit("/login/", "/login/", {"username": username, "password": password}, expect_redirect=False)

    def signed_in(self, username: str, password: str) -> None:
        text = self.sign_in(username, password)
        check("Sign out" in text, f"{username} could not sign in: {errors(text) or text[:800]}")

    def applied(self) -> str | None:
        """The status line once nothing waits to be applied (the admin's view), else None."""
        status = re.search(r'<p class="config-status[^"]*" role="status">(.*?)</p>', self.get("/config/"), re.S)
        line = " ".join(re.sub(r"<[^>]+>", "", status.group(1)).split()) if status else ""
        check("failed" not in line, f"the panel says: {line}")
        return line if line.startswith("Applied generation") else None


def errors(page: str) -> str:
    found = re.findall(r'<(?:ul|p|div) class="[^"]*error[^"]*"[^>]*>(.*?)</(?:ul|p|div)>', page, re.S)
    return " | ".join(" ".join(re.sub(r"<[^>]+>", " ", f).split()) for f in found)


# --- DNS: the zone the panel offers, served by nsd; the same answers for the DKIM verifier ----


class Nameserver:
    def __init__(self, address: str, directory: Path) -> None:
        self.address, self.dir = address, directory
        self.process: subprocess.Popen | None = None

    def publish(self, origin: str, zone: str) -> None:
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        head = (
            f"$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns.{origin}. hostmaster.{origin}. {int(time.time())} 3600 600 86400 60\n"
            f"@ IN NS ns.{origin}.\nns IN A {self.address}\n"
        )
        (self.dir / "zone").write_text(head + zone)
        (self.dir / "nsd.conf").write_text(
            "server:\n"
            f"  ip-address: {self.address}\n  do-ip6: no\n"
            f'  username: ""\n  chroot: ""\n  zonesdir: "{self.dir}"\n  pidfile: "{self.dir}/nsd.pid"\n'
            f'  zonelistfile: "{self.dir}/zone.list"\n  xfrdfile: "{self.dir}/xfrd.state"\n'
            f'  xfrdir: "{self.dir}"\n  database: ""\n  server-count: 1\n'
            "remote-control:\n  control-enable: no\n"
            f"zone:\n  name: {origin}\n  zonefile: zone\n"
        )
        self.process = subprocess.Popen(["nsd", "-d", "-c", str(self.dir / "nsd.conf")])
        wait_for("nsd answers", lambda: self.txt(f"ns.{origin}", "A") is not None, 20, 0.2)

    def txt(self, name: str, kind: str = "TXT") -> bytes | None:
        answer = dns.query.udp(dns.message.make_query(name, kind), self.address, timeout=1)
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(b"".join(r.strings) for r in rrset)
            return str(rrset[0]).encode()
        return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


# --- the mail daemons ----------------------------------------------------------------------


def imap_login(host: str, context: ssl.SSLContext, password: str) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(host, 993, ssl_context=context, timeout=30)
    try:
        imap.login(MAILBOX, password)
    except Exception:
        imap.shutdown()
        raise
    return imap


def imap_refuses(host: str, context: ssl.SSLContext, password: str) -> bool:
    try:
        imap_login(host, context, password).logout()
    except imaplib.IMAP4.error:
        return True
    return False


def smtp_refuses(host: str, context: ssl.SSLContext, password: str) -> bool:
    with smtplib.SMTP_SSL(host, 465, context=context, timeout=30) as smtp:
        try:
            smtp.login(MAILBOX, password)
        except smtplib.SMTPAuthenticationError:
            return True
    return False


def send(host: str, context: ssl.SSLContext, password: str, subject: str, port: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = MAILBOX, MAILBOX, subject
    message["Message-ID"] = f"<{subject}@{DOMAIN}>"
    message.set_content(f"Sent by the deployment check through port {port}.\n")
    if port == 465:
        smtp = smtplib.SMTP_SSL(host, 465, context=context, timeout=30)
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
        smtp.starttls(context=context)
    with smtp:
        smtp.login(MAILBOX, password)
        smtp.send_message(message)


def send_as_a_client_would(host: str, context: ssl.SSLContext, password: str, subject: str, port: int) -> None:
    """Send; a temporary refusal (4xx) is tried again, as a mail client or MTA does: right after
    an apply reloads Rspamd, smtpd's filter answers 421 until Rspamd's workers are back (~1 s)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return send(host, context, password, subject, port)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as e:
            code = getattr(e, "smtp_code", 0) or min((c for c, _ in e.recipients.values()), default=0)
            if not 400 <= code < 500 or time.monotonic() > deadline:
                raise Failed(f"sending on port {port}: {e}") from e
            step(f"port {port} answered {code} (temporary), trying again as a client would")
            time.sleep(2)


def fetch(host: str, context: ssl.SSLContext, password: str, subject: str) -> bytes | None:
    imap = imap_login(host, context, password)
    try:
        imap.select("INBOX", readonly=True)
        status, found = imap.search(None, "HEADER", "Subject", subject)
        numbers = found[0].split() if status == "OK" else []
        if not numbers:
            return None
        status, data = imap.fetch(numbers[-1], "(BODY.PEEK[])")
        return data[0][1]
    finally:
        imap.logout()


def signed(raw: bytes, nameserver: Nameserver) -> str:
    signature = re.search(rb"^DKIM-Signature:(.*?)\r?\n(?=\S)", raw, re.S | re.M)
    check(signature, f"the message has no DKIM-Signature:\n{raw[:1500].decode(errors='replace')}")
    tags = dict(re.findall(rb"\b([a-z]+)=([^;]*)", re.sub(rb"\s+", b"", signature.group(1))))
    check(tags.get(b"d") == DOMAIN.encode(), f"signed for {tags.get(b'd')!r}, not {DOMAIN}")
    ok = dkim.verify(raw, dnsfunc=lambda name, timeout=5: nameserver.txt(name.decode().rstrip(".")))
    check(ok, f"the DKIM signature does not verify:\n{raw[:1500].decode(errors='replace')}")
    return tags[b"s"].decode()


def mail_round_trip(args, context, nameserver, password: str, port: int) -> None:
    subject = f"deploy-check-{port}-{int(time.time() * 1000)}"
    send_as_a_client_would(args.mail_host, context, password, subject, port)
    raw = wait_for(
        f"the message sent on {port} in the INBOX", lambda: fetch(args.mail_host, context, password, subject), 90, 1
    )
    selector = signed(raw, nameserver)
    step(f"submitted on port {port} with SMTP AUTH, fetched over IMAP, DKIM signature valid (selector {selector})")


def publish_zone(panel: Panel, nameserver: Nameserver) -> None:
    zone = panel.get(f"/domains/{DOMAIN}/dns/zone/")
    check("_domainkey" in zone, f"the zone the panel offers has no DKIM record:\n{zone}")
    nameserver.publish(DOMAIN, zone)


def wait_applied(panel: Panel, what: str) -> None:
    line = wait_for(f"{what} applied", panel.applied, 90, 0.5)
    step(f"{what}: {line}")


# --- the two phases --------------------------------------------------------------------------


def setup(args, context: ssl.SSLContext, nameserver: Nameserver) -> None:
    panel = Panel(args.panel_host, context)
    wait_for("the panel answers through nginx", lambda: panel.request("GET", "/login/")[0] == 200, 180, 1)
    status, headers, _ = panel.request("GET", "/login/")
    check("strict-transport-security" in headers, "no HSTS header: the panel is not in its production settings")
    step("the panel answers through nginx over TLS (test CA), with HSTS")
    plain = http.client.HTTPConnection(args.panel_host, 80, timeout=10)
    plain.request("GET", "/login/", headers={"Host": args.panel_host})
    response = plain.getresponse()
    check(
        response.status == 301 and response.getheader("Location", "").startswith("https://"),
        f"http:// is not sent to https:// ({response.status})",
    )
    plain.close()

    check("Sign out" not in panel.sign_in(args.admin, "not the password"), "a wrong admin password signs in")
    panel.signed_in(args.admin, args.admin_password)
    step(f"signed in as {args.admin}")
    panel.submit("/domains/new/", "/domains/new/", {"name": DOMAIN})
    check(DOMAIN in panel.get("/"), f"{DOMAIN} is not on the dashboard")
    step(f"added the domain {DOMAIN}")
    domain_page = f"/domains/{DOMAIN}/"
    page = panel.submit(
        domain_page,
        f"/domains/{DOMAIN}/mailboxes/new/",
        {
            "local_part": "alice",
            "display_name": "Alice",
            "quota_mb": "1G",
            "password1": FIRST_PASSWORD,
            "password2": FIRST_PASSWORD,
        },
    )
    check(MAILBOX in page or MAILBOX in panel.get(domain_page), f"{MAILBOX} is not on its domain's page")
    step(f"added the mailbox {MAILBOX}")

    publish_zone(panel, nameserver)
    dns_page = panel.submit(f"/domains/{DOMAIN}/dns/", f"/domains/{DOMAIN}/dns/check/", {})
    check("leaves unsigned" not in dns_page, "the DKIM record was published and checked, yet the domain is unsigned")
    step("published the zone the panel offers (nsd), Check now saw the DKIM record: signing is on")
    wait_applied(panel, "the domain, the mailbox and its DKIM key")

    imap = wait_for("IMAP login", lambda: imap_login(args.mail_host, context, FIRST_PASSWORD), 60)
    imap.logout()
    step("IMAP login on 993 with the mailbox's password")
    mail_round_trip(args, context, nameserver, FIRST_PASSWORD, 465)
    mail_round_trip(args, context, nameserver, FIRST_PASSWORD, 587)

    user = Panel(args.panel_host, context)
    user.signed_in(MAILBOX, FIRST_PASSWORD)
    page = user.submit(
        "/account/",
        "/account/",
        {"current_password": FIRST_PASSWORD, "password1": SECOND_PASSWORD, "password2": SECOND_PASSWORD},
        expect_redirect=False,
    )
    check(
        "Your password is changed" in page or "Your password is changed" in user.get("/account/"),
        errors(page) or page[:800],
    )
    step("the mailbox user changed their password in the panel")
    wait_applied(panel, "the new password")
    wait_for(
        "IMAP login with the new password", lambda: imap_login(args.mail_host, context, SECOND_PASSWORD), 60
    ).logout()
    check(imap_refuses(args.mail_host, context, FIRST_PASSWORD), "IMAP still takes the old password")
    check(smtp_refuses(args.mail_host, context, FIRST_PASSWORD), "SMTP AUTH still takes the old password")
    check(
        "Sign out" not in Panel(args.panel_host, context).sign_in(MAILBOX, FIRST_PASSWORD),
        "the panel takes the old password",
    )
    step("the new password opens IMAP; IMAP, SMTP AUTH and the panel refuse the old one")
    mail_round_trip(args, context, nameserver, SECOND_PASSWORD, 465)


def verify(args, context: ssl.SSLContext, nameserver: Nameserver) -> None:
    panel = Panel(args.panel_host, context)
    wait_for("the panel answers through nginx", lambda: panel.request("GET", "/login/")[0] == 200, 180, 1)
    panel.signed_in(args.admin, args.admin_password)
    check(MAILBOX in panel.get(f"/domains/{DOMAIN}/"), f"{MAILBOX} is gone")
    wait_applied(panel, "the configuration")
    step(f"the admin, {DOMAIN} and {MAILBOX} are still there")
    publish_zone(panel, nameserver)
    imap = wait_for(
        "IMAP login with the new password", lambda: imap_login(args.mail_host, context, SECOND_PASSWORD), 120
    )
    imap.select("INBOX", readonly=True)
    status, found = imap.search(None, "HEADER", "Subject", "deploy-check-")
    imap.logout()
    kept = found[0].split() if status == "OK" else []
    check(len(kept) >= 3, f"the INBOX holds {len(kept)} of the messages sent before")
    raw = fetch(args.mail_host, context, SECOND_PASSWORD, "deploy-check-465")
    check(raw, "a message sent before is gone")
    signed(raw, nameserver)
    step(f"the INBOX still holds the {len(kept)} messages sent before, their signatures still valid")
    check(imap_refuses(args.mail_host, context, FIRST_PASSWORD), "IMAP takes the old password again")
    check(smtp_refuses(args.mail_host, context, FIRST_PASSWORD), "SMTP AUTH takes the old password again")
    step("the old password is still refused")
    mail_round_trip(args, context, nameserver, SECOND_PASSWORD, 465)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=["setup", "verify"])
    parser.add_argument("--ca", required=True, help="the test CA's certificate")
    parser.add_argument("--panel-host", default="mailadmin.example.org")
    parser.add_argument("--mail-host", default="mail.example.org")
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--admin-password-file", required=True)
    parser.add_argument("--dns-address", required=True, help="where nsd listens (the panel's DNS_RESOLVERS)")
    parser.add_argument("--resolve", action="append", default=[], help="NAME=ADDRESS, as /etc/hosts would")
    args = parser.parse_args()
    args.admin_password = Path(args.admin_password_file).read_text().strip()
    for pair in args.resolve:
        name, _, address = pair.partition("=")
        FIXED[name] = address
    context = ssl.create_default_context(cafile=args.ca)
    nameserver = Nameserver(args.dns_address, Path(os.environ.get("TMPDIR", "/tmp")) / f"nsd-{args.phase}")
    try:
        (setup if args.phase == "setup" else verify)(args, context, nameserver)
    except Failed as e:
        step(f"FAILED: {e}")
        return 1
    finally:
        nameserver.stop()
    step(f"{args.phase}: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
