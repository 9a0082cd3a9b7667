#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""replay: a caching proxy in front of the AWS fake that answers repeated
AWS calls from memory after a fixed delay, so that a refresh can be timed
without the fake's own processing (botocore signature verification, model
validation and rendering, all under one Python GIL).

  replay.py --upstream http://127.0.0.1:PORT --ready-file FILE

A request is identified by its X-Amz-Target and body (the signature and date
headers are left out: they change every call). The first time, it is
forwarded unchanged (same Host header, so the fake verifies the signature
as it would have) and a 200 answer is kept; afterwards the kept answer is
sent again after delay_ms. Answers other than 200 are passed through and
not kept. Loopback only; stops on SIGTERM or when its parent dies.

Control, under /_replay/ on the same port:
  POST /_replay/config {"delay_ms": N}    the added latency of every answer
  GET  /_replay/stats                     {"hits": N, "misses": N}
  POST /_replay/stats/reset               zero both counters
The ready file gets {"url": "http://127.0.0.1:PORT", "pid": PID}.
"""

import argparse
import asyncio
import http.client
import json
import os
import signal
import sys
import urllib.parse

MAX_HEADER_BYTES = 64 << 10
MAX_BODY_BYTES = 1 << 20
PASSED_HEADERS = ('content-type', 'x-amzn-requestid')


class Replay:
    def __init__(self, upstream):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.cache = {}
        self.delay_ms = 0
        self.hits = 0
        self.misses = 0

    def forward(self, method, path, headers, body):
        """Sends one request to the fake (blocking); returns (status,
        [(name, value)], body)."""
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port,
                                          timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in ('connection', 'expect'):
                    conn.putheader(name, value)
            conn.endheaders(body)
            resp = conn.getresponse()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() in PASSED_HEADERS]
            return resp.status, kept, resp.read()
        finally:
            conn.close()

    async def answer(self, method, path, headers, body):
        if path.startswith('/_replay/'):
            return self.control(method, path, body)
        target = next((v for k, v in headers if k.lower() == 'x-amz-target'), '')
        key = (method, path, target, body)
        kept = self.cache.get(key)
        if kept is None:
            self.misses += 1
            status, out_headers, out_body = await asyncio.to_thread(
                self.forward, method, path, headers, body)
            if status == 200:
                self.cache[key] = (status, out_headers, out_body)
        else:
            self.hits += 1
            status, out_headers, out_body = kept
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000.0)
        return status, out_headers, out_body

    def control(self, method, path, body):
        if (method, path) == ('POST', '/_replay/config'):
            self.delay_ms = int(json.loads(body or b'{}').get('delay_ms', 0))
        elif (method, path) == ('POST', '/_replay/stats/reset'):
            self.hits = self.misses = 0
        elif (method, path) != ('GET', '/_replay/stats'):
            return 404, [('Content-Type', 'application/json')], b'{"error": "no such route"}\n'
        out = {'hits': self.hits, 'misses': self.misses, 'delay_ms': self.delay_ms}
        return 200, [('Content-Type', 'application/json')], json.dumps(out).encode() + b'\n'


async def read_request(reader):
    """Returns (method, path, [(name, value)], body, expects_continue), or
    None at the end of the connection."""
    try:
        head = await reader.readuntil(b'\r\n\r\n')
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        return None
    lines = head.decode('latin-1').split('\r\n')
    method, path, _ = lines[0].split(' ', 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(':')
            headers.append((name.strip(), value.strip()))
    fields = {k.lower(): v for k, v in headers}
    length = int(fields.get('content-length', '0'))
    if length < 0 or length > MAX_BODY_BYTES:
        return None
    return method, path, headers, length, fields.get('expect', '').lower() == '100-continue'


def render(status, headers, body):
    reason = http.client.responses.get(status, 'Unknown')
    out = [f'HTTP/1.1 {status} {reason}', f'Content-Length: {len(body)}']
    out += [f'{k}: {v}' for k, v in headers]
    return ('\r\n'.join(out) + '\r\n\r\n').encode('latin-1') + body


async def serve_connection(replay, reader, writer):
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                break
            method, path, headers, length, expects_continue = req
            if expects_continue:
                writer.write(b'HTTP/1.1 100 Continue\r\n\r\n')
            body = await reader.readexactly(length) if length else b''
            writer.write(render(*await replay.answer(method, path, headers, body)))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def watch_parent(parent, stop):
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def main_async(args):
    replay = Replay(args.upstream)
    server = await asyncio.start_server(lambda r, w: serve_connection(replay, r, w),
                                        '127.0.0.1', 0, limit=MAX_HEADER_BYTES)
    port = server.sockets[0].getsockname()[1]
    tmp = f'{args.ready_file}.tmp.{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump({'url': f'http://127.0.0.1:{port}', 'pid': os.getpid()}, f)
    os.replace(tmp, args.ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await watch_parent(os.getppid(), stop)
    server.close()  # connections still open die with the process


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--upstream', required=True, help='the fake\'s AWS URL')
    p.add_argument('--ready-file', required=True)
    asyncio.run(main_async(p.parse_args()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
