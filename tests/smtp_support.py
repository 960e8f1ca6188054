"""A real SMTP server for tests (aiosmtpd on loopback): it records what it accepts, and can
refuse a command or hang on the nth MAIL FROM on demand, as a slow or dying server would."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.processes import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """The handler and its controls. Replies such as "451 4.3.0 try later" set on
    `mail_reply`, `rcpt_reply` or `data_reply` are given instead of accepting."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    mail_count: int = 0
    hang_on_mail: int | None = None  # the nth MAIL FROM (1-based) never gets an answer
    hang_on_data: int | None = None  # the nth message's final "." never gets an answer
    data_count: int = 0
    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for item in self.received for rcpt in item.rcpt_tos]

    async def _hang(self) -> None:
        self.hanging.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        with self.lock:
            self.mail_count += 1
            count = self.mail_count
        if count == self.hang_on_mail:
            await self._hang()
            return "421 4.3.2 shutting down"
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_count += 1
            count = self.data_count
        if count == self.hang_on_data:  # the client cannot know whether it was accepted
            await self._hang()
            return "451 4.3.2 shutting down"
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content)))
        return "250 2.0.0 queued"


class RunningSmtp:
    """Starts and stops the server around a test."""

    def __init__(self) -> None:
        self.server = SmtpServer(port=free_port())
        self.controller = Controller(self.server, hostname=self.server.host,
                                     port=self.server.port, ready_timeout=10)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.release.set()  # let a hung handler finish so the loop can stop
        self.controller.stop()
