"""Talking to the lab's daemons the way a mail client and another mail server would."""

import imaplib
import re
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import dkim

from tests.daemons.lab import HOSTNAME, PORTS


def tls_context(lab) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(lab.tls / "cert.pem"))
    context.check_hostname = False
    return context


def imap_login(lab, user: str, password: str) -> bool:
    with imaplib.IMAP4_SSL("127.0.0.1", PORTS["imaps"], ssl_context=tls_context(lab), timeout=10) as imap:
        try:
            imap.login(user, password)
        except imaplib.IMAP4.error:
            return False
        return True


def smtp_auth(lab, user: str, password: str) -> bool:
    with smtplib.SMTP("127.0.0.1", PORTS["submission"], timeout=30) as smtp:
        smtp.starttls(context=tls_context(lab))
        try:
            smtp.login(user, password)
        except smtplib.SMTPAuthenticationError:
            return False
        return True


def rcpt(recipient: str, sender: str = "someone@elsewhere.example") -> tuple[int, str]:
    """What the inbound listener (port 25) answers to RCPT TO, as another mail server sees it."""
    with smtplib.SMTP("127.0.0.1", PORTS["smtp"], timeout=30) as smtp:
        smtp.ehlo("mx.elsewhere.example")
        smtp.mail(sender)
        code, message = smtp.rcpt(recipient)
        return code, message.decode()


def message(sender: str, recipient: str, header_from: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = header_from or sender
    msg["To"] = recipient
    msg["Subject"] = f"test {uuid.uuid4().hex}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=HOSTNAME)
    msg.set_content("Hello from the mailadmin test suite.\n")
    return msg


def submit(
    lab, user: str, password: str, msg: EmailMessage, envelope_from: str | None = None, port: str = "submission"
) -> None:
    if port == "smtps":
        smtp = smtplib.SMTP_SSL("127.0.0.1", PORTS["smtps"], context=tls_context(lab), timeout=30)
    else:
        smtp = smtplib.SMTP("127.0.0.1", PORTS["submission"], timeout=30)
        smtp.starttls(context=tls_context(lab))
    with smtp:
        smtp.login(user, password)
        smtp.send_message(msg, from_addr=envelope_from or msg["From"])


def deliver_inbound(msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", PORTS["smtp"], timeout=30) as smtp:
        smtp.ehlo("mx.elsewhere.example")
        smtp.send_message(msg)


def fetch(lab, user: str, password: str, subject: str, timeout: float = 20) -> bytes | None:
    """The raw message with this subject in the user's INBOX, waiting for delivery up to timeout."""
    deadline = time.monotonic() + timeout
    with imaplib.IMAP4_SSL("127.0.0.1", PORTS["imaps"], ssl_context=tls_context(lab), timeout=10) as imap:
        imap.login(user, password)
        while time.monotonic() < deadline:
            imap.select("INBOX")
            _, found = imap.search(None, "SUBJECT", f'"{subject}"')
            if found[0]:
                _, data = imap.fetch(found[0].split()[-1], "(RFC822)")
                return data[0][1]
            time.sleep(0.2)
    return None


def dkim_results(raw: bytes, public_records: dict[str, bytes]) -> list[tuple[str, bool]]:
    """(d=/s= of each DKIM-Signature, verified?), DNS answered from {"sel._domainkey.dom": record}."""

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return public_records.get(name.rstrip("."))

    raw = re.sub(rb"\r?\n", b"\r\n", raw)
    verifier = dkim.DKIM(raw)
    signatures = [value for key, value in verifier.headers if key.lower() == b"dkim-signature"]
    results = []
    for index, signature in enumerate(signatures):
        tags = dict(t.strip().split("=", 1) for t in re.sub(rb"\s+", b"", signature).decode().split(";") if "=" in t)
        results.append(
            (f"{tags.get('s')}._domainkey.{tags.get('d')}", bool(verifier.verify(idx=index, dnsfunc=dnsfunc)))
        )
    return results
