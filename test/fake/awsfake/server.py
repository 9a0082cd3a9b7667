# SPDX-License-Identifier: Apache-2.0
"""server: HTTP plumbing shared by the listeners.

A Listener is a ThreadingHTTPServer on 127.0.0.1 with an OS-chosen port;
each connection gets a thread (daemon), optionally TLS (the handshake runs
in that thread, so a silent client cannot stall accept()). The handler
reads one request into a Request, asks the listener's app for a Response
(app.handle(request); the app never touches the socket), and writes it.

A Response may ask for a transport fault instead of a clean answer:
  "close"    close without answering (FIN)
  "reset"    abort the connection (RST, via SO_LINGER 0)
  "truncate" announce the full Content-Length, send half the body, close
  "drip"     send the whole answer one byte at a time, drip_delay_ms apart
Request.wait() lets an app block (hang and latency faults) until a release
event, a timeout, the client hanging up, or the fake stopping.
"""

import email.utils
import http.server
import os
import select
import socket
import ssl
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field

MAX_BODY_BYTES = 1 << 20
WAIT_STEP_SEC = 0.05


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str  # the raw request target: path and query, still encoded
    headers: list  # [(name, value)] as received, duplicates kept
    body: bytes
    scheme: str
    listener: str
    waiter: object = None

    @property
    def path(self):
        return self.target.split('?', 1)[0]

    def header(self, name, default=None):
        """The first header called name (any case), or default."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def wait(self, timeout_sec=None, event=None):
        """Blocks until event is set ("released"), timeout_sec passes
        ("timeout"), the client hangs up ("gone") or the fake stops
        ("stopped")."""
        return self.waiter(timeout_sec, event)


@dataclass
class Response:
    status: int
    body: bytes = b''
    headers: list = field(default_factory=list)
    transport: str = None  # None, "close", "reset", "truncate", "drip"
    drip_delay_ms: int = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'awsfake'
    sys_version = ''

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def log_message(self, format, *args):  # quiet: the journal records requests
        pass

    def _dispatch(self):
        try:
            body = self._read_body()
        except BodyError as e:
            self.close_connection = True
            self._send(Response(e.status, (str(e) + '\n').encode(), [('Connection', 'close')]))
            return
        req = Request(self.command, self.path, list(self.headers.items()), body,
                      self.server.scheme, self.server.name, self._wait)
        try:
            resp = self.server.app.handle(req)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            resp = Response(500, b'internal error in the fake\n')
        self._send(resp)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            return self._read_chunked()
        try:
            n = int(self.headers.get('Content-Length', '0'))
        except ValueError:
            raise BodyError(400, 'bad Content-Length') from None
        if n < 0 or n > MAX_BODY_BYTES:
            raise BodyError(413, 'body too large')
        return self.rfile.read(n)

    def _read_chunked(self):
        body = b''
        while True:
            line = self.rfile.readline(1024)
            try:
                n = int(line.split(b';')[0].strip(), 16)
            except ValueError:
                raise BodyError(400, 'bad chunk') from None
            if len(body) + n > MAX_BODY_BYTES:
                raise BodyError(413, 'body too large')
            if n == 0:
                while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                    pass
                return body
            body += self.rfile.read(n)
            self.rfile.readline(1024)

    def _head(self, resp, content_length):
        reason = http.server.BaseHTTPRequestHandler.responses.get(resp.status, ('Unknown',))[0]
        lines = [f'HTTP/1.1 {resp.status} {reason}',
                 f'Date: {email.utils.formatdate(usegmt=True)}',
                 f'Server: {self.server_version}']
        lines += [f'{k}: {v}' for k, v in resp.headers]
        lines.append(f'Content-Length: {content_length}')
        if any(k.lower() == 'connection' and v.lower() == 'close' for k, v in resp.headers):
            self.close_connection = True
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')

    def _send(self, resp):
        body = b'' if self.command == 'HEAD' else resp.body
        try:
            if resp.transport is None:
                self.wfile.write(self._head(resp, len(resp.body)) + body)
            elif resp.transport == 'close':
                self.close_connection = True
            elif resp.transport == 'reset':
                self._reset()
            elif resp.transport == 'truncate':
                self._truncate(resp, body)
            elif resp.transport == 'drip':
                self._drip(self._head(resp, len(body)) + body, resp.drip_delay_ms)
        except OSError:
            self.close_connection = True

    def _reset(self):
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.rfile.close()  # drop the makefile reference so close() is real
        self.connection.close()

    def _truncate(self, resp, body):
        self.close_connection = True
        self.wfile.write(self._head(resp, len(body) + max(16, len(body))) + body[:len(body) // 2])

    def _drip(self, data, delay_ms):
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            if self._wait(delay_ms / 1000.0) in ('gone', 'stopped'):
                self.close_connection = True
                return

    def _client_gone(self):
        """True when the peer has closed its side (EOF pending)."""
        try:
            probe = socket.socket(fileno=os.dup(self.connection.fileno()))
        except OSError:
            return True
        try:
            readable, _, _ = select.select([probe], [], [], 0)
            if not readable:
                return False
            return probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b''
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            probe.close()

    def _wait(self, timeout_sec=None, event=None):
        clock = self.server.monotonic
        deadline = None if timeout_sec is None else clock() + timeout_sec
        while True:
            if event is not None and event.is_set():
                return 'released'
            if self.server.stop.is_set():
                return 'stopped'
            if deadline is not None and clock() >= deadline:
                return 'timeout'
            if self._client_gone():
                return 'gone'
            step = WAIT_STEP_SEC if deadline is None else min(WAIT_STEP_SEC, deadline - clock())
            self.server.stop.wait(max(step, 0))


class Listener(http.server.ThreadingHTTPServer):
    """One listening port: name ("aws", "ecs", "imds", "admin"), the app that
    answers its requests, the stop event, and an optional ssl.SSLContext."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog is 5: a client opening its 16
    # connections at once (cloudmap-sd's first refresh) would see SYNs
    # dropped and wait a second to retry them. AWS has no such limit.
    request_queue_size = 128

    def __init__(self, name, app, stop, ssl_context=None):
        self.name = name
        self.app = app
        self.stop = stop
        self.ssl_context = ssl_context
        self.scheme = 'https' if ssl_context else 'http'
        self.monotonic = time.monotonic
        super().__init__(('127.0.0.1', 0), Handler)

    @property
    def url(self):
        return f'{self.scheme}://127.0.0.1:{self.server_address[1]}'

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):
            return  # clients hanging up, failed handshakes: expected
        super().handle_error(request, client_address)


def tls_context(cert_path, key_path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
