"""The rest of the internet, as OpenSMTPD's relay sees it: a small SMTP server on loopback that
accepts every message and keeps its envelope and content for the test to read."""

import socketserver
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Relayed:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class Sink:
    port: int
    messages: list[Relayed] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink.test ESMTP")
                mail_from, rcpt_to = "", []
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.reply("250 sink.test")
                    elif verb == b"MAIL":
                        mail_from, rcpt_to = line.decode().split(":", 1)[1].strip().split()[0].strip("<>"), []
                        self.reply("250 ok")
                    elif verb == b"RCPT":
                        rcpt_to.append(line.decode().split(":", 1)[1].strip().split()[0].strip("<>"))
                        self.reply("250 ok")
                    elif verb == b"DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            data += chunk[1:] if chunk.startswith(b".") else chunk  # undo dot-stuffing
                        sink.messages.append(Relayed(mail_from, rcpt_to, data))
                        self.reply("250 stored")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP; no STARTTLS: the relay goes on in plain text
                        self.reply("250 ok" if verb in (b"RSET", b"NOOP") else "502 not here")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Session)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, recipient: str, timeout: float = 30) -> Relayed:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for relayed in self.messages:
                if recipient in relayed.rcpt_to:
                    return relayed
            time.sleep(0.1)
        raise AssertionError(f"nothing was relayed to {recipient} within {timeout} s")
