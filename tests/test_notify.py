"""Alerts through real sockets: a local SMTP sink and a local webhook receiver, no mocks.

``SmtpSink`` is a small SMTP server on asyncio sockets (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT -
what ``smtplib`` speaks); aiosmtpd is not a dependency of the project.  Other test modules import it.
"""

from __future__ import annotations

import asyncio
import email
import json
import socket
import threading
import time
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from eis_core.orchestration.notify import AlertSettings, send_alert


class SmtpSink:
    """An SMTP server on 127.0.0.1 (a free port) in a thread; ``messages`` holds what it received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write((line + "\r\n").encode())

        say("220 eis-test-sink ESMTP")
        await writer.drain()
        sender, rcpts = "", []
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip("\r\n")
            cmd = line[:4].upper()
            if cmd == "EHLO":
                writer.write(b"250-eis-test-sink\r\n250 8BITMIME\r\n")
            elif cmd == "HELO":
                say("250 eis-test-sink")
            elif cmd == "MAIL":
                sender, rcpts = line.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                say("250 OK")
            elif cmd == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                say("250 OK")
            elif cmd == "DATA":
                say("354 end with <CRLF>.<CRLF>")
                await writer.drain()
                data = bytearray()
                while True:
                    chunk = await reader.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.messages.append(email.message_from_bytes(bytes(data)))
                self.envelopes.append((sender, rcpts))
                say("250 OK: queued")
            elif cmd in ("RSET", "NOOP"):
                say("250 OK")
            elif cmd == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("502 command not implemented")
            await writer.drain()
        writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    def __enter__(self) -> "SmtpSink":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def env(self, to: str = "supervisor@pd.example") -> dict[str, str]:
        return {"EIS_ALERT_SMTP_HOST": "127.0.0.1", "EIS_ALERT_SMTP_PORT": str(self.port),
                "EIS_ALERT_EMAIL_TO": to, "EIS_ALERT_EMAIL_FROM": "eis@pd.example"}

    def wait_for(self, n: int = 1, timeout: float = 10) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages


class WebhookSink:
    """An HTTP server on 127.0.0.1 that records every POSTed JSON body."""

    def __init__(self, status: int = 200) -> None:
        bodies: list[dict] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookSink":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_an_alert_reaches_the_smtp_sink():
    with SmtpSink() as sink:
        out = send_alert("[EIS] test subject", "line one\nline two\n", settings=AlertSettings.from_env(sink.env()))
        assert out == {"email": "sent"}
        (msg,) = sink.wait_for(1)
    assert msg["Subject"] == "[EIS] test subject"
    assert msg["To"] == "supervisor@pd.example" and msg["From"] == "eis@pd.example"
    assert "line two" in msg.get_payload(decode=True).decode()
    assert sink.envelopes == [("eis@pd.example", ["supervisor@pd.example"])]


def test_several_recipients_and_the_webhook_both_receive_it():
    with SmtpSink() as sink, WebhookSink() as hook:
        env = {**sink.env("a@pd.example, b@pd.example"), "EIS_ALERT_WEBHOOK_URL": hook.url}
        out = send_alert("[EIS] both", "body", extra={"dag_id": "eis_ingest"}, settings=AlertSettings.from_env(env))
        assert out == {"email": "sent", "webhook": "sent"}
        sink.wait_for(1)
    assert sink.envelopes[0][1] == ["a@pd.example", "b@pd.example"]
    (body,) = hook.bodies
    assert body["subject"] == "[EIS] both" and body["dag_id"] == "eis_ingest"
    assert body["text"].startswith("[EIS] both\n")


def test_an_unreachable_server_is_reported_not_raised(capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with WebhookSink(status=500) as hook:
        env = {"EIS_ALERT_SMTP_HOST": "127.0.0.1", "EIS_ALERT_SMTP_PORT": str(port),
               "EIS_ALERT_EMAIL_TO": "x@pd.example", "EIS_ALERT_WEBHOOK_URL": hook.url, "EIS_ALERT_TIMEOUT": "3"}
        out = send_alert("[EIS] lost", "body", settings=AlertSettings.from_env(env))
    assert out["email"].startswith("failed: ConnectionRefusedError")
    assert out["webhook"].startswith("failed: HTTPError")
    assert "alert via email failed" in capsys.readouterr().err


def test_nothing_configured_sends_nothing(capsys):
    assert send_alert("[EIS] nowhere", "body", settings=AlertSettings.from_env({})) == {}
    assert "no EIS_ALERT_EMAIL_TO" in capsys.readouterr().err


@pytest.mark.parametrize("exc_factory, expected", [
    (lambda: __import__("psycopg").OperationalError("server closed the connection"), "retry"),
    (lambda: __import__("httpx").ConnectError("connection refused"), "retry"),
    (lambda: __import__("httpx").ReadTimeout("heartbeat timed out"), "retry"),
    (lambda: ValueError("bad date"), "fail"),
    (lambda: FileNotFoundError("drop folder gone"), "fail"),
    (lambda: KeyError("x"), "fail"),
    (lambda: RuntimeError("something else"), "default"),
])
def test_the_retry_policy_classifies_real_exceptions(exc_factory, expected):
    from eis_core.orchestration.dag_defaults import IDEMPOTENT

    assert IDEMPOTENT.evaluate(exc_factory(), 1, 4).action.value == expected


def test_the_policy_follows_the_cause_and_knows_eis_errors_by_name():
    import psycopg

    from eis_core.orchestration.dag_defaults import IDEMPOTENT, NOT_IDEMPOTENT
    from eis_core.production.scoring import ProductionError
    from eis_core.transform import TransformError

    try:
        try:
            raise psycopg.OperationalError("terminating connection due to administrator command")
        except psycopg.OperationalError as inner:
            raise RuntimeError("load failed") from inner
    except RuntimeError as outer:
        assert IDEMPOTENT.evaluate(outer, 1, 4).action.value == "retry"
    assert IDEMPOTENT.evaluate(ProductionError("stale"), 1, 4).action.value == "fail"
    assert IDEMPOTENT.evaluate(TransformError("dbt test failed"), 1, 4).action.value == "fail"
    assert NOT_IDEMPOTENT.evaluate(psycopg.OperationalError("x"), 1, 4).action.value == "fail"
