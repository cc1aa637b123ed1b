"""Local receivers for alerts over real sockets: an HTTP webhook endpoint and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class Received:
    posts: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    mails: list[Message] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, Received]]:
    """An incoming-webhook endpoint on 127.0.0.1; yields its base URL and what it received."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.posts.append(json.loads(body))
            got.paths.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self, got: Received) -> None:
        self.got = got

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - the aiosmtpd API
        self.got.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, Received]]:
    """An SMTP server on 127.0.0.1 (aiosmtpd); yields its port and the mails it received."""
    got = Received()
    with socket.socket() as probe:  # aiosmtpd connects to its own port at start: it cannot be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Mailbox(got), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, got
    finally:
        controller.stop()
