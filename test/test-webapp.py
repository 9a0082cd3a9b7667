#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Integration test of the demo web app: starts the real binary on free
# loopback ports, drives /work, reads /metrics (and has promtool check it),
# watches the load generator, and stops the processes with SIGTERM.
# Prints TAP. Readiness and growth are polled with deadlines, never slept on.
#
#   test-webapp.py WEBAPP_BINARY
import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

WEBAPP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WEBAPP_BINARY", "webapp")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ALLOWED_LINT = 'request_duration_milliseconds use base unit "seconds" instead of "milliseconds"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """One webapp process on a free loopback port, its stderr collected."""

    def __init__(self, *flags):
        self.port = free_port()
        self.lines = queue.Queue()
        self.log = []
        self.proc = subprocess.Popen(
            [WEBAPP, "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=debug",
             *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_line(self, pattern, timeout=10):
        """Waits for a log line matching pattern; returns it or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.log.append(line)
            if re.search(pattern, line):
                return line
        return None

    def get(self, path, method="GET", timeout=10):
        """Returns (status, headers, body) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.get("/-/healthy", timeout=1)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)  # the poll interval, not a synchronisation
        return False

    def metrics(self):
        status, headers, body = self.get("/metrics")
        assert status == 200, "GET /metrics answered %d" % status
        return headers, body

    def stop(self, timeout=10):
        """SIGTERM; returns (exit code or None on timeout, seconds taken)."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        return rc, time.monotonic() - start


def samples(text):
    """Maps 'name{labels}' (as written) to its float value."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def work_total(app, code):
    key = 'http_requests_total{method="GET",path="/work",code="%s"}' % code
    return samples(app.metrics()[1]).get(key, 0.0)


# ---- the cases; each raises AssertionError with a reason ----

REQUESTS = 20
BUCKETS = ["1", "2.5", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000",
           "+Inf"]


def check_work_answers(app):
    for _ in range(REQUESTS):
        start = time.monotonic()
        status, headers, body = app.get("/work")
        took_ms = (time.monotonic() - start) * 1000
        assert status == 200 and body == "work done\n", (status, body)
        assert took_ms >= 30, "answered in %.1f ms, under --work.latency-min" % took_ms
    # Answers keep the connection open (MHD closes it when a handler
    # answers before the whole request is read).
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/-/healthy")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200 and not resp.will_close, "connection not kept alive"
    finally:
        conn.close()
    status, _, _ = app.get("/work", method="POST")
    assert status == 405, "POST /work answered %d" % status
    status, _, _ = app.get("/no/such/path?x=1")
    assert status == 404, "unknown path answered %d" % status


def check_metrics_contents(app):
    headers, text = app.metrics()
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type")
    assert ctype == CONTENT_TYPE, "content type %r" % ctype
    s = samples(text)
    want = {
        'http_requests_total{method="GET",path="/work",code="200"}': REQUESTS,
        'http_requests_total{method="POST",path="/work",code="405"}': 1,
        'http_requests_total{method="GET",path="other",code="404"}': 1,
        'http_requests_total{method="GET",path="/-/healthy",code="200"}': 3,
        'request_duration_milliseconds_count{method="GET",path="/work"}': REQUESTS,
        'request_duration_milliseconds_bucket{method="GET",path="/work",le="25"}': 0,
        'request_duration_milliseconds_bucket{method="GET",path="/work",le="+Inf"}': REQUESTS,
    }
    for key, value in want.items():
        assert s.get(key) == value, "%s is %r, want %r" % (key, s.get(key), value)
    counts = [s['request_duration_milliseconds_bucket{method="GET",path="/work",le="%s"}' % le]
              for le in BUCKETS]
    assert counts == sorted(counts), "buckets not cumulative: %r" % counts
    # Milliseconds, not seconds: at least the 30 ms floor, with room for a
    # loaded machine above the 40 ms ceiling.
    total_ms = s['request_duration_milliseconds_sum{method="GET",path="/work"}']
    assert 30 * REQUESTS <= total_ms <= 500 * REQUESTS, "sum %r ms" % total_ms
    assert "/no/such/path" not in text, "a raw path became a label value"
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                 "process_start_time_seconds"):
        assert name in s, "%s missing" % name
    assert abs(s["process_start_time_seconds"] - time.time()) < 600


def check_promtool(app):
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found (Debian package prometheus)"
    _, text = app.metrics()
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    findings = [l.strip() for l in (res.stdout + res.stderr).splitlines() if l.strip()]
    others = [f for f in findings if f != ALLOWED_LINT]
    assert not others, "promtool findings: %r" % others
    assert res.returncode in (0, 3), "promtool exited %d" % res.returncode


def check_no_load_stays_put(app):
    before = work_total(app, "200")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # watch a window of 1.5 s
        now = work_total(app, "200")
        assert now == before, "/work count moved from %r to %r with --load.rate=0" % (before,
                                                                                     now)
        time.sleep(0.1)  # the poll interval


def check_healthcheck(app):
    ok = subprocess.run([WEBAPP, "--healthcheck",
                         "--web.listen-address=127.0.0.1:%d" % app.port], timeout=30)
    assert ok.returncode == 0, "--healthcheck against a running app exited %d" % ok.returncode
    bad = subprocess.run([WEBAPP, "--healthcheck",
                          "--web.listen-address=127.0.0.1:%d" % free_port()],
                         stderr=subprocess.DEVNULL, timeout=30)
    assert bad.returncode == 1, "--healthcheck against nothing exited %d" % bad.returncode


def check_sigterm(app):
    rc, took = app.stop()
    assert rc == 0, "exit code %r after SIGTERM" % rc
    assert took < 3, "took %.1f s to stop" % took


def check_load_generator(app):
    first = work_total(app, "500")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and work_total(app, "500") < first + 10:
        time.sleep(0.05)  # the poll interval
    now = work_total(app, "500")
    assert now >= first + 10, "/work count went from %r to %r with --load.rate=50" % (first,
                                                                                     now)
    assert work_total(app, "200") == 0, "--work.error-rate=1 answered 200"


def check_stop_answers_delayed_work(app):
    """SIGTERM while a 10 s /work is suspended: it is answered at once."""
    result = {}

    def call():
        try:
            result["status"] = app.get("/work", timeout=20)[0]
        except Exception as e:  # noqa: BLE001 -- reported below
            result["error"] = repr(e)

    t = threading.Thread(target=call)
    t.start()
    assert app.wait_line(r'msg="work delayed"'), "the request was never delayed"
    start = time.monotonic()
    rc, took = app.stop()
    t.join(timeout=20)
    assert result.get("status") == 200, "delayed /work got %r" % result
    assert time.monotonic() - start < 3, "the delayed answer waited for its latency"
    assert rc == 0 and took < 3, "exit code %r after %.1f s" % (rc, took)


def main():
    apps = {}
    cases = [
        ("quiet app becomes healthy", lambda: ready("quiet")),
        ("/work answers after its latency; keep-alive; 405 and 404", lambda: check_work_answers(apps["quiet"])),
        ("/metrics counts and times requests, process metrics", lambda: check_metrics_contents(apps["quiet"])),
        ("promtool check metrics finds only the unit lint", lambda: check_promtool(apps["quiet"])),
        ("--load.rate=0 sends nothing", lambda: check_no_load_stays_put(apps["quiet"])),
        ("--healthcheck exits 0 on a running app, 1 on none", lambda: check_healthcheck(apps["quiet"])),
        ("SIGTERM exits 0 promptly", lambda: check_sigterm(apps["quiet"])),
        ("loaded app becomes healthy", lambda: ready("loaded")),
        ("--load.rate=50 makes http_requests_total grow", lambda: check_load_generator(apps["loaded"])),
        ("SIGTERM stops the load generator and exits 0", lambda: check_sigterm(apps["loaded"])),
        ("slow app becomes healthy", lambda: ready("slow")),
        ("SIGTERM answers a delayed /work at once", lambda: check_stop_answers_delayed_work(apps["slow"])),
    ]
    flags = {
        "quiet": ["--load.rate=0", "--work.latency-min=30ms", "--work.latency-max=40ms",
                  "--work.error-rate=0"],
        "loaded": ["--load.rate=50", "--work.latency-min=0s", "--work.latency-max=2ms",
                   "--work.error-rate=1"],
        "slow": ["--load.rate=0", "--work.latency-min=10s", "--work.latency-max=10s",
                 "--work.error-rate=0"],
    }

    def ready(name):
        apps[name] = App(*flags[name])
        assert apps[name].wait_ready(), "not healthy in time; exit code %r" % apps[name].proc.poll()

    failed = 0
    print("1..%d" % len(cases), flush=True)
    for i, (name, fn) in enumerate(cases, 1):
        try:
            fn()
            print("ok %d - %s" % (i, name), flush=True)
        except (AssertionError, KeyError, OSError, subprocess.SubprocessError) as e:
            failed += 1
            print("# %s" % (e,))
            print("not ok %d - %s" % (i, name), flush=True)
    for name, app in apps.items():
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
        if failed:
            app.wait_line(r"^$", timeout=0.2)
            for line in app.log[-50:]:
                print("# %s: %s" % (name, line.rstrip()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
