"""A small HTTP/1.1 client for one origin: kept-alive connections, one request at a time on each.

The broadcaster's ``@connections`` POSTs are its hot path: thousands of small requests to one
host. Per request, measured on this machine (``bench/post_cost.py``, CPU time of the caller):
botocore's ``post_to_connection`` ~0.8-1.4 ms, httpx ~0.5-0.7 ms (h11 parses in Python),
``http.client`` ~0.15 ms (``email``'s header parser) and this client ~0.04 ms: it writes the
request in one ``sendall`` and reads the answer with a buffered file's C ``readline``. What it
does not do, because that path does not need it: proxies, redirects, cookies, compression,
pipelining, ``Expect: 100-continue``, HTTP/2.

Connections are kept in a LIFO list of idle ones (at most ``max_idle``; ``list.append`` and
``pop`` are atomic, so threads share a client without a lock); a caller that finds none opens
one, so concurrency is bounded by the callers (the broadcaster's threads), not here. A kept-alive
connection that the server closed while idle is noticed on its next use (the write fails, or
the answer ends before its first byte) and the request is sent once more on a new connection:
the server cannot have answered it. Timeouts: ``connect_timeout`` for the TCP (and TLS)
handshake, ``read_timeout`` for each wait for bytes.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, cast
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100


class HttpError(Exception):
    """The exchange failed: no connection, a broken one, or an answer that is not HTTP/1.x."""


class HttpTimeout(HttpError):
    """Connecting, or waiting for the answer's next bytes, took longer than allowed."""


class _Stale(Exception):
    """A reused connection was closed by the server before this request reached it."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes


class _Connection:
    __slots__ = ("file", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = cast(BinaryIO, sock.makefile("rb", buffering=MAX_LINE))

    def close(self) -> None:
        for closing in (self.file, self.sock):
            with contextlib.suppress(OSError):
                closing.close()


class KeepAliveClient:
    def __init__(
        self,
        base_url: str,
        *,
        max_idle: int = 32,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.tls = parts.scheme == "https"
        self.hostname = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        self.origin = f"{parts.scheme}://{self.host_header}"
        self.base_path = parts.path.rstrip("/")
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ssl = (ssl_context or ssl.create_default_context()) if self.tls else None
        self._idle: list[_Connection] = []

    def request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        """Send one request (``path`` is absolute and already percent-encoded) and read its
        answer. Raises ``HttpTimeout`` or ``HttpError``; any status is a ``Response``."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() != "host"]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for _attempt in range(2):
            try:
                connection, reused = self._idle.pop(), True
            except IndexError:
                connection, reused = self._open(), False
            try:
                response, keep = self._exchange(connection, data, method, reused)
            except _Stale:
                connection.close()
                continue
            except TimeoutError as exc:
                connection.close()
                raise HttpTimeout(f"{method} {self.origin}: no answer in time") from exc
            except (OSError, ValueError) as exc:
                connection.close()
                raise HttpError(f"{method} {self.origin}: {exc}") from exc
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(connection)
            else:
                connection.close()
            return response
        raise HttpError(f"{method} {self.origin}: the server closed two connections in a row")

    def close(self) -> None:
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:
                return

    def _open(self) -> _Connection:
        try:
            sock = socket.create_connection(
                (self.hostname, self.port), timeout=self.connect_timeout
            )
        except TimeoutError as exc:
            raise HttpTimeout(f"connecting to {self.origin} took too long") from exc
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.origin}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self.hostname)
            sock.settimeout(self.read_timeout)
        except TimeoutError as exc:
            sock.close()
            raise HttpTimeout(f"the TLS handshake with {self.origin} took too long") from exc
        except OSError as exc:
            sock.close()
            raise HttpError(f"cannot connect to {self.origin}: {exc}") from exc
        return _Connection(sock)

    @staticmethod
    def _exchange(
        connection: _Connection, data: bytes, method: str, reused: bool
    ) -> tuple[Response, bool]:
        try:
            connection.sock.sendall(data)
            status_line = connection.file.readline(MAX_LINE + 1)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            if reused:
                raise _Stale from None
            raise
        if not status_line:
            if reused:
                raise _Stale
            raise ValueError("the server closed the connection without answering")
        while True:
            version, status = _status(status_line)
            headers = _headers(connection.file)
            if status >= 200:
                break
            status_line = connection.file.readline(MAX_LINE + 1)  # 1xx: the answer follows
        keep = version == b"HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = _chunked(connection.file)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body = connection.file.read(length) if length else b""
            if len(body) != length:
                raise ValueError("the answer ended before its Content-Length")
        else:  # delimited by the end of the connection
            body, keep = connection.file.read(), False
        return Response(status, headers, body), keep


def _status(line: bytes) -> tuple[bytes, int]:
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise ValueError("the status line is too long or cut short")
    version, _, rest = line.partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {line[:40]!r}")
    return version, int(rest[:3])


def _headers(file: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = file.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line.endswith(b"\n"):
            raise ValueError("a header line is too long or the answer was cut short")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ValueError(f"not a header line: {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    raise ValueError(f"more than {MAX_HEADERS} header lines")


def _chunked(file: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        line = file.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise ValueError("a chunk size line is too long or the answer was cut short")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            _headers(file)  # trailers, up to the empty line
            return b"".join(parts)
        chunk = file.read(size)
        if len(chunk) != size or file.read(2) != b"\r\n":
            raise ValueError("a chunk ended early")
        parts.append(chunk)
