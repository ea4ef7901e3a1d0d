"""A role's ``/metrics`` listener: plain HTTP on the role's own event loop.

It runs on the loop rather than in prometheus_client's server thread, so that the lag
collector reads the Kafka consumer's state on the thread that changes it. It answers
``GET /metrics`` (and ``HEAD``) and nothing else, one request per connection, as a
Prometheus scrape needs.

Several instances of a role may run on one machine: when the configured port is taken, the
listener takes a free one and says where (a role never fails to start because of its
metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from dataclasses import dataclass

from schemashift.consumers.common import metrics

log = logging.getLogger("schemashift.metrics")

# A scrape's request is a few hundred bytes; anything much larger is not one.
_MAX_REQUEST_BYTES = 16_384
_READ_TIMEOUT_S = 10.0


@dataclass
class MetricsListener:
    """The listening server and the address it serves on."""

    server: asyncio.Server
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where Prometheus finds this process's metrics."""
        return f"http://{self.host}:{self.port}/metrics"

    async def close(self) -> None:
        """Stop listening (a scrape in hand finishes)."""
        self.server.close()
        await self.server.wait_closed()


async def start_listener(host: str, port: int, *, role: str) -> MetricsListener | None:
    """Serve ``/metrics`` on ``host:port``, or on a free port if that one is taken.

    Returns None (after logging why) when no port can be had at all: the role runs on
    without metrics rather than not at all.
    """
    try:
        server = await asyncio.start_server(_answer, host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            log.error(
                "%s: cannot serve metrics on %s:%d (%s); running without", role, host, port, exc
            )
            return None
        try:
            server = await asyncio.start_server(_answer, host, 0)
        except OSError as again:
            log.error("%s: cannot serve metrics on %s (%s); running without", role, host, again)
            return None
        listener = _listener(server, host)
        log.warning(
            "%s: metrics port %d is taken (another instance?); serving metrics on %s instead",
            role,
            port,
            listener.url,
        )
        return listener
    listener = _listener(server, host)
    log.debug("%s: metrics on %s", role, listener.url)
    return listener


def _listener(server: asyncio.Server, host: str) -> MetricsListener:
    bound = server.sockets[0].getsockname()[1]
    return MetricsListener(server, host, int(bound))


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
        if len(head) > _MAX_REQUEST_BYTES:
            raise ValueError("request too large")
        status, body, content_type = _respond(head.split(b"\r\n", 1)[0])
        method = head.split(b" ", 1)[0]
        headers = (
            f"HTTP/1.1 {status}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(headers.encode() + (b"" if method == b"HEAD" else body))
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass  # not a scrape: nothing to answer
    except ConnectionError:
        pass  # the scraper went away
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _respond(request_line: bytes) -> tuple[str, bytes, str]:
    """The status, body and content type for one request line (``GET /metrics HTTP/1.1``)."""
    parts = request_line.decode("latin-1").split(" ")
    if len(parts) != 3:
        return "400 Bad Request", b"bad request\n", "text/plain; charset=utf-8"
    method, target, _ = parts
    if target.split("?", 1)[0] != "/metrics":
        return "404 Not Found", b"metrics are at /metrics\n", "text/plain; charset=utf-8"
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", b"GET only\n", "text/plain; charset=utf-8"
    return "200 OK", metrics.exposition(), metrics.CONTENT_TYPE
