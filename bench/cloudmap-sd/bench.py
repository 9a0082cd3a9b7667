#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench: the three benchmarks of cloudmap-sd (issue 3, "Benchmarks"), each
reported as a ratio against a baseline measured in the same run, with the
machine named. run.sh builds the release binary and calls this.

  1. GET /targets throughput and p99 latency under wrk, 1k and 10k targets,
     against nginx serving the same bytes as a static file (rounds
     alternate between the two; medians). Target: at least 0.9x nginx.
  2. Peak resident memory (VmHWM) with 10k targets while wrk loads /targets
     and the daemon refreshes (light every ~1 s, full every ~2 s, instances
     changing). Target: at most 3 x the rendered JSON + 8 MiB. Also shown:
     VmHWM after the first refresh, and while refreshing with no requests.
  3. Full refresh wall time, 50 services x 200 instances, with 20 ms added
     to every AWS call (target: at most 0.3 s) and 0 ms as the baseline;
     the same against replay.py, which answers from memory, to separate
     the daemon's time from the fake's; and the AWS calls of a light
     refresh where nothing changed (target: at most services + 2).

Everything runs on 127.0.0.1 with ports the OS picks; every process started
is stopped (by its pid) before this exits. Needs: wrk, nginx, python3 with
botocore (the fake's), the cloudmap-sd binary (--binary).
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAKE = os.path.join(ROOT, 'test', 'fake', 'fakeaws.py')
REPLAY = os.path.join(HERE, 'replay.py')
sys.path.insert(0, HERE)
import world  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
MIB = 1 << 20
REFRESH_RE = re.compile(r'kind=(full|light) duration_ms=(\d+)')
NGINX_CONF = """worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	client_body_temp_path {dir}/tmp;
	proxy_temp_path {dir}/tmp;
	fastcgi_temp_path {dir}/tmp;
	uwsgi_temp_path {dir}/tmp;
	scgi_temp_path {dir}/tmp;
	types {{ }}
	default_type application/json;
	server {{
		listen 127.0.0.1:{port};
		root {dir}/www;
		location = /targets {{ }}
	}}
}}
"""


class BenchError(Exception):
    pass


# ---- small helpers ----------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout_sec, step_sec=0.05):
    """Polls check() until it returns something truthy; returns that.
    Raises BenchError after timeout_sec."""
    deadline = time.monotonic() + timeout_sec
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f'timed out after {timeout_sec:g}s waiting for {what}')
        time.sleep(step_sec)  # poll interval, not synchronisation


def request(url, method='GET', body=None, timeout_sec=30):
    """One HTTP exchange; returns (status, headers dict, body bytes)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout_sec)
    try:
        path = u.path + ('?' + u.query if u.query else '')
        headers = {'Content-Type': 'application/json'} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post_json(url, value):
    status, _, body = request(url, 'POST', json.dumps(value).encode())
    if status != 200:
        raise BenchError(f'POST {url}: {status} {body[:200]!r}')
    return json.loads(body)


def get_json(url):
    status, _, body = request(url)
    if status != 200:
        raise BenchError(f'GET {url}: {status}')
    return json.loads(body)


def cpu_sec(pid):
    """User + system CPU seconds of a live process (all its threads)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise BenchError(f'no {key} in /proc/{pid}/status')


def machine_busy_sec():
    """CPU seconds the whole machine spent busy since boot."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / CLK_TCK


def own_cpu_sec():
    """CPU seconds of this process and of every child it has reaped."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class BackgroundLoad:
    """Measures the CPU that processes other than this benchmark's used
    during a phase, in cores. Valid once every process the phase started
    is reaped."""

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), machine_busy_sec(), own_cpu_sec()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        other = (machine_busy_sec() - self.busy0) - (own_cpu_sec() - self.own0)
        self.cores = max(0.0, other / wall) if wall > 0 else 0.0
        return False


def median(values):
    return statistics.median(values) if values else float('nan')


# ---- processes ----------------------------------------------------------------

class Procs:
    """The processes one phase started; stop_all() stops them, by pid."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log_path, env=None):
        log = open(log_path, 'wb')
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
        finally:
            log.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p)


@contextlib.contextmanager
def phase():
    procs = Procs()
    try:
        yield procs
    finally:
        procs.stop_all()


def check_alive(p, name, log_path):
    if p.poll() is not None:
        with open(log_path, errors='replace') as f:
            tail = f.read()[-2000:]
        raise BenchError(f'{name} exited with {p.returncode}:\n{tail}')


class Fake:
    """The AWS fake (test/fake), started with a state file."""

    def __init__(self, procs, tmp, state_path):
        ready = os.path.join(tmp, 'fake-ready.json')
        log = os.path.join(tmp, 'fake.log')
        if os.path.exists(ready):
            os.unlink(ready)
        self.proc = procs.start([sys.executable, FAKE, 'serve', '--exit-with-parent',
                                 '--ready-file', ready, '--state', state_path], log)

        def ready_info():
            check_alive(self.proc, 'the AWS fake', log)
            return os.path.exists(ready) and json.load(open(ready))

        self.info = wait_for('the AWS fake', ready_info, 60)
        self.admin = self.info['admin']
        self.pid = self.proc.pid

    def post(self, route, value=None):
        return post_json(f'{self.admin}/{route}', {} if value is None else value)

    def calls(self):
        return get_json(f'{self.admin}/calls')

    def set_latency(self, delay_ms):
        self.post('faults/clear')
        if delay_ms:
            self.post('faults', {'operation': '*', 'kind': 'latency', 'delay_ms': delay_ms})


class Replay:
    """replay.py in front of the fake."""

    def __init__(self, procs, tmp, upstream):
        ready = os.path.join(tmp, 'replay-ready.json')
        log = os.path.join(tmp, 'replay.log')
        self.proc = procs.start([sys.executable, REPLAY, '--upstream', upstream,
                                 '--ready-file', ready], log)

        def ready_info():
            check_alive(self.proc, 'replay.py', log)
            return os.path.exists(ready) and json.load(open(ready))

        self.url = wait_for('replay.py', ready_info, 20)['url']
        self.pid = self.proc.pid

    def set_latency(self, delay_ms):
        post_json(f'{self.url}/_replay/config', {'delay_ms': delay_ms})

    def stats(self):
        return get_json(f'{self.url}/_replay/stats')

    def reset_stats(self):
        post_json(f'{self.url}/_replay/stats/reset', {})


class Daemon:
    """cloudmap-sd against an AWS endpoint, on a loopback port."""

    extra_env = {}  # --daemon-env

    def __init__(self, procs, tmp, binary, fake_info, aws_url, flags, name='sd'):
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.log = os.path.join(tmp, f'{name}.log')
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
               'AWS_ENDPOINT_URL': aws_url, 'AWS_REGION': fake_info['region'],
               'AWS_ACCESS_KEY_ID': fake_info['access_key_id'],
               'AWS_SECRET_ACCESS_KEY': fake_info['secret_access_key'],
               'AWS_EC2_METADATA_DISABLED': 'true',
               'AWS_CONFIG_FILE': os.path.join(tmp, 'no-aws-config'),
               'AWS_SHARED_CREDENTIALS_FILE': os.path.join(tmp, 'no-aws-credentials'),
               **Daemon.extra_env}
        argv = [binary, f'--web.listen-address=127.0.0.1:{self.port}', '--log.level=debug']
        self.proc = procs.start(argv + flags, self.log, env)
        self.pid = self.proc.pid
        wait_for('cloudmap-sd to be ready', self._ready, 120)

    def _ready(self):
        check_alive(self.proc, 'cloudmap-sd', self.log)
        try:
            return request(f'{self.url}/-/ready', timeout_sec=5)[0] == 200
        except OSError:
            return False

    def refreshes(self):
        """[(kind, duration_ms)] of every refresh logged so far."""
        check_alive(self.proc, 'cloudmap-sd', self.log)
        with open(self.log, errors='replace') as f:
            return [(m.group(1), int(m.group(2))) for m in map(REFRESH_RE.search, f) if m]

    def wait_refresh(self, after, kind=None, timeout_sec=60):
        """Waits for a refresh (of kind, if given) logged after the first
        `after` ones; returns (its index, kind, duration_ms)."""
        def next_one():
            for i, r in enumerate(self.refreshes()[after:], after):
                if kind is None or r[0] == kind:
                    return (i,) + r
            return None
        return wait_for(f'a {kind or "any"} refresh', next_one, timeout_sec, 0.01)

    def targets(self):
        status, headers, body = request(f'{self.url}/targets')
        if status != 200 or headers.get('content-type') != 'application/json':
            raise BenchError(f'/targets answered {status} {headers.get("content-type")}')
        return body


class Nginx:
    """nginx serving one file as /targets, application/json."""

    def __init__(self, procs, tmp, body, workers):
        d = os.path.join(tmp, 'nginx')
        os.makedirs(os.path.join(d, 'www'), exist_ok=True)
        os.makedirs(os.path.join(d, 'tmp'), exist_ok=True)
        with open(os.path.join(d, 'www', 'targets'), 'wb') as f:
            f.write(body)
        for path in (tmp, d, os.path.join(d, 'www'), os.path.join(d, 'www', 'targets')):
            os.chmod(path, 0o755)  # the workers may run as nobody
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        conf = os.path.join(d, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF.format(workers=workers, dir=d, port=self.port))
        log = os.path.join(d, 'stderr.log')
        self.proc = procs.start([shutil.which('nginx') or '/usr/sbin/nginx', '-e', 'stderr',
                                 '-p', d, '-c', conf, '-g', 'daemon off;'], log)

        def up():
            check_alive(self.proc, 'nginx', log)
            try:
                return request(f'{self.url}/targets', timeout_sec=5)
            except OSError:
                return None

        status, headers, served = wait_for('nginx', up, 20)
        if status != 200 or served != body or headers.get('content-type') != 'application/json':
            raise BenchError('nginx does not serve the same bytes as application/json')


# ---- wrk ----------------------------------------------------------------------

# wrk leaves an answer slower than its --timeout out of its latency histogram
# (and counts it as a "timeout" error): with the default 2 s, a slow tail
# would vanish from the p99. Far above any latency seen here.
WRK_TIMEOUT_SEC = 30
UNIT_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}


def wrk(url, opts, duration_sec):
    """One wrk run; returns {rps, p99_ms, errors}."""
    argv = ['wrk', f'-t{opts.wrk_threads}', f'-c{opts.connections}', f'-d{duration_sec}s',
            f'--timeout={WRK_TIMEOUT_SEC}s', '--latency', url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True,
                         timeout=duration_sec + 60).stdout
    rps = re.search(r'^Requests/sec:\s+([\d.]+)', out, re.M)
    p99 = re.search(r'^\s+99%\s+([\d.]+)(us|ms|s|m)\b', out, re.M)
    lat = re.search(r'^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)\b', out, re.M)
    if not rps or not p99 or not lat:
        raise BenchError(f'cannot read wrk output:\n{out}')
    errors = sum(int(n) for n in re.findall(r'(?:connect|read|write|timeout) (\d+)', out))
    non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    errors += int(non2xx.group(1)) if non2xx else 0
    detail = '; '.join(m.strip() for m in re.findall(r'^\s*(Socket errors:.*|Non-2xx.*)$', out,
                                                       re.M))
    return {'rps': float(rps.group(1)), 'p99_ms': float(p99.group(1)) * UNIT_MS[p99.group(2)],
            'max_ms': float(lat.group(1)) * UNIT_MS[lat.group(2)], 'errors': errors,
            'error_text': detail}


# ---- 1. throughput ------------------------------------------------------------

def write_world(tmp, services, instances, name):
    path = os.path.join(tmp, f'{name}.json')
    with open(path, 'w') as f:
        json.dump(world.world(services, instances, 1), f, separators=(',', ':'))
    return path


def throughput_rounds(opts, urls):
    """Alternating wrk rounds against each URL; returns {name: [results]}."""
    names = list(urls)
    for name in names:
        wrk(urls[name], opts, 2)  # warm-up
    results = {name: [] for name in names}
    for i in range(opts.rounds):
        for name in (names if i % 2 == 0 else names[::-1]):
            r = wrk(urls[name], opts, opts.duration)
            results[name].append(r)
            if opts.verbose:
                print(f'  round {i + 1} {name}: {r["rps"]:.1f} req/s, p99 {r["p99_ms"]:.2f} ms, '
                      f'max {r["max_ms"]:.2f} ms, {r["errors"]} errors {r["error_text"]}',
                      flush=True)
    return results


def bench_throughput(opts, tmp, services, instances):
    state = write_world(tmp, services, instances, f'world-{services}x{instances}')
    with BackgroundLoad() as load, phase() as procs:
        fake = Fake(procs, tmp, state)
        sd = Daemon(procs, tmp, opts.binary, fake.info, fake.info['aws'],
                    ['--refresh.interval=1h', '--refresh.full-interval=1h',
                     '--refresh.max-staleness=2h'] + opts.web_flags, name='sd-throughput')
        body = sd.targets()
        procs.stop(fake.proc)  # serving only: no refresh for an hour, the fake is idle
        nginx = Nginx(procs, tmp, body, os.cpu_count())
        res = throughput_rounds(opts, {'cloudmap-sd': f'{sd.url}/targets',
                                       'nginx': f'{nginx.url}/targets'})
        check_alive(sd.proc, 'cloudmap-sd', sd.log)
    row = {'targets': services * instances, 'json_bytes': len(body), 'background': load.cores}
    for name, runs in res.items():
        row[name] = {'rps': median([r['rps'] for r in runs]),
                     'p99_ms': median([r['p99_ms'] for r in runs]),
                     'max_ms': max(r['max_ms'] for r in runs),
                     'errors': sum(r['errors'] for r in runs)}
    return row


# ---- 2. memory ----------------------------------------------------------------

class Mutator(threading.Thread):
    """Changes one instance's attributes every interval_sec, round-robin over
    the services, so that light refreshes fetch and rebuild."""

    def __init__(self, fake, services, interval_sec):
        super().__init__(daemon=True)
        self.fake, self.services, self.interval_sec = fake, services, interval_sec
        self.stop = threading.Event()
        self.count = 0
        self.error = None

    def run(self):
        while not self.stop.wait(self.interval_sec):
            svc = self.count % self.services
            inst = world.instance(svc, self.count % 7)
            inst['Attributes']['version'] = f'2.{self.count}.0'
            try:
                self.fake.post('instances/register', {
                    'NamespaceName': 'bench-0', 'ServiceName': f'svc-{svc:02d}',
                    'InstanceId': inst['Id'], 'Attributes': inst['Attributes']})
            except (OSError, BenchError) as e:
                self.error = e
                return
            self.count += 1


def memory_run(opts, tmp, procs, state, services, serve):
    """One daemon refreshing for opts.memory_duration seconds while the
    Mutator changes instances, under wrk when serve (else idle). Returns
    the figures of that daemon."""
    fake = Fake(procs, tmp, state)
    sd = Daemon(procs, tmp, opts.binary, fake.info, fake.info['aws'],
                ['--refresh.interval=1s', '--refresh.full-interval=2s'] + opts.web_flags,
                name=f'sd-memory-{"serve" if serve else "idle"}')
    json_bytes = len(sd.targets())
    hwm_idle_kb = status_kb(sd.pid, 'VmHWM')
    before = len(sd.refreshes())
    mutator = Mutator(fake, services, 0.5)
    mutator.start()
    try:
        if serve:
            load_run = wrk(f'{sd.url}/targets', opts, opts.memory_duration)
        else:
            time.sleep(opts.memory_duration)  # the measurement window, not a wait for an event
            load_run = {'rps': 0.0, 'errors': 0, 'error_text': ''}
    finally:
        mutator.stop.set()
        mutator.join()
    hwm_kb, rss_kb = status_kb(sd.pid, 'VmHWM'), status_kb(sd.pid, 'VmRSS')
    kinds = [k for k, _ in sd.refreshes()[before:]]
    procs.stop(sd.proc)
    procs.stop(fake.proc)
    return {'json_bytes': json_bytes, 'hwm_bytes': hwm_kb * 1024,
            'hwm_idle_bytes': hwm_idle_kb * 1024, 'rss_bytes': rss_kb * 1024,
            'full': kinds.count('full'), 'light': kinds.count('light'),
            'mutations': mutator.count, 'mutator_error': mutator.error,
            'rps': load_run['rps'], 'errors': load_run['errors'],
            'error_text': load_run['error_text']}


def bench_memory(opts, tmp):
    """The figure (refreshing and serving), and the same without requests
    to show what serving adds."""
    services, instances = 20, 500
    state = write_world(tmp, services, instances, 'world-memory')
    with BackgroundLoad() as load, phase() as procs:
        served = memory_run(opts, tmp, procs, state, services, True)
        unserved = memory_run(opts, tmp, procs, state, services, False)
    return dict(served, targets=services * instances, unserved=unserved,
                budget_bytes=3 * served['json_bytes'] + 8 * MIB, background=load.cores)


# ---- 3. refresh ---------------------------------------------------------------

def light_refresh_calls(sd, fake):
    """AWS calls of one light refresh: counted between two light refreshes
    logged back to back. Returns ({operation: calls}, duration_ms, the
    daemon's CPU ms meanwhile)."""
    i, _, _ = sd.wait_refresh(len(sd.refreshes()), 'light')
    fake.post('calls/reset')
    cpu0 = cpu_sec(sd.pid)
    j, kind, duration_ms = sd.wait_refresh(i + 1)
    cpu_ms = (cpu_sec(sd.pid) - cpu0) * 1000
    if j != i + 1 or kind != 'light':
        raise BenchError('a refresh other than a light one ran while counting calls')
    calls = fake.calls()
    if any(c['rejected'] for c in calls.values()):
        raise BenchError(f'the fake rejected calls: {calls}')
    return {op: c['total'] for op, c in calls.items()}, duration_ms, cpu_ms


def timed_full_refresh(sd, side_pid):
    """SIGHUP, then the full refresh's logged duration_ms and the CPU seconds
    the daemon and the AWS side (fake or replay) used meanwhile."""
    n = len(sd.refreshes())
    sd_cpu0, side_cpu0 = cpu_sec(sd.pid), cpu_sec(side_pid)
    sd.proc.send_signal(signal.SIGHUP)
    _, _, duration_ms = sd.wait_refresh(n, 'full')
    return {'wall_ms': duration_ms, 'sd_cpu_ms': (cpu_sec(sd.pid) - sd_cpu0) * 1000,
            'side_cpu_ms': (cpu_sec(side_pid) - side_cpu0) * 1000}


def full_refresh_rounds(opts, sd, side, side_pid, delays):
    """Alternating rounds of SIGHUP-triggered full refreshes; returns
    {delay_ms: [results]}."""
    results = {d: [] for d in delays}
    timed_full_refresh(sd, side_pid)  # warm-up (fills replay's cache)
    for i in range(opts.refresh_rounds):
        for d in (delays if i % 2 == 0 else delays[::-1]):
            side.set_latency(d)
            results[d].append(timed_full_refresh(sd, side_pid))
    side.set_latency(0)
    return results


def cold_refresh_rounds(opts, procs, tmp, fake, delays):
    """The first refresh of a new daemon (nothing to reuse: every service
    rendered and compressed), in alternating rounds; {delay_ms: [results]}."""
    results = {d: [] for d in delays}
    for i in range(opts.refresh_rounds):
        for d in (delays if i % 2 == 0 else delays[::-1]):
            fake.set_latency(d)
            side_cpu0 = cpu_sec(fake.pid)
            sd = Daemon(procs, tmp, opts.binary, fake.info, fake.info['aws'], REFRESH_FLAGS,
                        name=f'sd-cold-{i}-{d}')
            kind, duration_ms = sd.refreshes()[0]
            if kind != 'full':
                raise BenchError(f'the first refresh was {kind}')
            results[d].append({'wall_ms': duration_ms, 'sd_cpu_ms': cpu_sec(sd.pid) * 1000,
                               'side_cpu_ms': (cpu_sec(fake.pid) - side_cpu0) * 1000})
            procs.stop(sd.proc)
    fake.set_latency(0)
    return results


def summarize_refreshes(runs):
    walls = [r['wall_ms'] for r in runs]
    return {'wall_ms': median(walls), 'min_ms': min(walls), 'max_ms': max(walls),
            'sd_cpu_ms': median([r['sd_cpu_ms'] for r in runs]),
            'side_cpu_ms': median([r['side_cpu_ms'] for r in runs])}


REFRESH_FLAGS = ['--refresh.interval=1h', '--refresh.full-interval=1h',
                 '--refresh.max-staleness=2h']


def bench_refresh(opts, tmp):
    services, instances, delays = 50, 200, [0, 20]
    state = write_world(tmp, services, instances, 'world-refresh')
    rows = {}
    with BackgroundLoad() as load, phase() as procs:
        fake = Fake(procs, tmp, state)
        sd = Daemon(procs, tmp, opts.binary, fake.info, fake.info['aws'],
                    ['--refresh.interval=1s', '--refresh.full-interval=1h'], name='sd-light')
        calls, light_ms, light_cpu_ms = light_refresh_calls(sd, fake)
        procs.stop(sd.proc)
        for d, runs in cold_refresh_rounds(opts, procs, tmp, fake, delays).items():
            rows[('cold', d)] = summarize_refreshes(runs)
        sd = Daemon(procs, tmp, opts.binary, fake.info, fake.info['aws'], REFRESH_FLAGS,
                    name='sd-refresh-fake')
        for d, runs in full_refresh_rounds(opts, sd, fake, fake.pid, delays).items():
            rows[('fake', d)] = summarize_refreshes(runs)
        procs.stop(sd.proc)
        replay = Replay(procs, tmp, fake.info['aws'])
        sd = Daemon(procs, tmp, opts.binary, fake.info, replay.url, REFRESH_FLAGS,
                    name='sd-refresh-replay')
        replay.reset_stats()
        for d, runs in full_refresh_rounds(opts, sd, replay, replay.pid, delays).items():
            rows[('replay', d)] = summarize_refreshes(runs)
        replay_stats = replay.stats()
        rejected = {op: c['rejected'] for op, c in fake.calls().items() if c['rejected']}
        if rejected:
            raise BenchError(f'the fake rejected calls: {rejected}')
    return {'services': services, 'instances': instances, 'rows': rows, 'calls': calls,
            'light_ms': light_ms, 'light_cpu_ms': light_cpu_ms, 'replay_stats': replay_stats,
            'background': load.cores}


# ---- report -------------------------------------------------------------------

def machine():
    model = 'unknown CPU'
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
        m = re.search(r'^Model name:\s*(.+)$', out, re.M)
        model = m.group(1).strip() if m else model
    with open('/proc/meminfo') as f:
        mem_gib = int(f.readline().split()[1]) / (1 << 20)
    u = os.uname()
    return f'{model}, {os.cpu_count()} cores, {mem_gib:.1f} GiB, {u.sysname} {u.release}'


def versions(binary):
    sd = subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.strip()
    ng = subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()
    wk = subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split('\n')[0]
    return f'{sd.splitlines()[0] if sd else binary}; {ng}; {" ".join(wk.split()[:2])}'


def source_state():
    """The commit and whether the C sources differ from it (read-only git)."""
    try:
        head = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short=12', 'HEAD'],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src',
                                'include', 'meson.build'],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return 'not a git checkout'
    return f'HEAD {head}' + (f' + {len(dirty)} changed files under src/ include/' if dirty
                             else ', no local changes to the C sources')


def verdict(ok):
    return 'met' if ok else 'MISSED'


def load_note(cores):
    warn = '  (busy machine: figures are not reliable)' if cores > 0.2 else ''
    return f'   CPU used by other processes meanwhile: {cores:.2f} cores{warn}'


def print_throughput(opts, rows):
    print(f'\n1. GET /targets under wrk -t{opts.wrk_threads} -c{opts.connections} '
          f'-d{opts.duration}s --timeout {WRK_TIMEOUT_SEC}s --latency, {opts.rounds} alternating '
          f'rounds, medians')
    print(f'   {"targets":>7} {"JSON bytes":>11} {"sd req/s":>9} {"nginx req/s":>11} '
          f'{"ratio":>6} {"sd p99 ms":>10} {"nginx p99 ms":>12} {"ratio":>6}  >= 0.9x nginx')
    for r in rows:
        sd, ng = r['cloudmap-sd'], r['nginx']
        ratio = sd['rps'] / ng['rps']
        p99_ratio = ng['p99_ms'] / sd['p99_ms']
        print(f'   {r["targets"]:>7} {r["json_bytes"]:>11} {sd["rps"]:>9.1f} {ng["rps"]:>11.1f} '
              f'{ratio:>6.2f} {sd["p99_ms"]:>10.2f} {ng["p99_ms"]:>12.2f} {p99_ratio:>6.2f}  '
              f'{verdict(ratio >= 0.9 and p99_ratio >= 0.9)}')
        print(f'   slowest answer of all rounds: cloudmap-sd {sd["max_ms"]:.0f} ms, nginx '
              f'{ng["max_ms"]:.0f} ms; errors (socket, non-2xx, over {WRK_TIMEOUT_SEC} s): '
              f'cloudmap-sd {sd["errors"]}, nginx {ng["errors"]}')
        print(load_note(r['background']))


def print_memory(opts, r):
    print(f'\n2. Peak resident memory, {r["targets"]} targets, {opts.memory_duration}s of '
          f'refreshing (light ~1s, full ~2s, an instance changed every 0.5s), with and '
          f'without wrk')
    ratio = r['hwm_bytes'] / r['budget_bytes']
    print(f'   JSON {r["json_bytes"] / MIB:.2f} MiB; budget 3 x JSON + 8 MiB = '
          f'{r["budget_bytes"] / MIB:.1f} MiB')
    print(f'   {"":<29} {"VmHWM MiB":>9} {"/ budget":>8} {"/ JSON":>6} {"full":>4} {"light":>5}')
    print(f'   {"after the first refresh, idle":<29} {r["hwm_idle_bytes"] / MIB:>9.1f} '
          f'{r["hwm_idle_bytes"] / r["budget_bytes"]:>8.2f} '
          f'{r["hwm_idle_bytes"] / r["json_bytes"]:>6.2f}')
    u = r['unserved']
    print(f'   {"refreshing, no requests":<29} {u["hwm_bytes"] / MIB:>9.1f} '
          f'{u["hwm_bytes"] / r["budget_bytes"]:>8.2f} {u["hwm_bytes"] / r["json_bytes"]:>6.2f} '
          f'{u["full"]:>4} {u["light"]:>5}')
    print(f'   {"refreshing and serving (wrk)":<29} {r["hwm_bytes"] / MIB:>9.1f} {ratio:>8.2f} '
          f'{r["hwm_bytes"] / r["json_bytes"]:>6.2f} {r["full"]:>4} {r["light"]:>5}  '
          f'{verdict(ratio <= 1.0)}')
    print(f'   wrk meanwhile: {r["rps"]:.1f} req/s, {r["errors"]} errors'
          f'{" (" + r["error_text"] + ")" if r["errors"] else ""}; '
          f'VmRSS at the end {r["rss_bytes"] / MIB:.1f} MiB')
    for run in (r, u):
        if run['mutator_error'] or run['full'] < 2:
            print(f'   WARNING: too little refreshing to be meaningful ({run["mutator_error"]})')
    print(load_note(r['background']))


def print_refresh(opts, r):
    n = r['services']
    print(f'\n3. Full refresh, {n} services x {r["instances"]} instances, '
          f'{opts.refresh_rounds} alternating rounds per row, medians (min-max)')
    print(f'   {"AWS side":<28} {"added":>6} {"wall ms":>17} {"daemon CPU ms":>14} '
          f'{"AWS-side CPU ms":>16}')
    labels = {'cold': 'fake, first refresh (cold)', 'fake': 'fake (botocore-verified)',
              'replay': 'replay.py (cached answers)'}
    for (side, d), s in sorted(r['rows'].items()):
        label = labels[side]
        wall = f'{s["wall_ms"]:.0f} ({s["min_ms"]}-{s["max_ms"]})'
        print(f'   {label:<28} {d:>4}ms {wall:>17} {s["sd_cpu_ms"]:>14.0f} '
              f'{s["side_cpu_ms"]:>16.0f}')
    fake20, fake0 = r['rows'][('fake', 20)], r['rows'][('fake', 0)]
    replay20 = r['rows'][('replay', 20)]
    print(f'   20 ms vs 0 ms (fake): {fake20["wall_ms"] / fake0["wall_ms"]:.2f}x; '
          f'fake vs replay at 20 ms: {fake20["wall_ms"] / replay20["wall_ms"]:.2f}x')
    cold20 = r['rows'][('cold', 20)]
    print(f'   full refresh with 20 ms <= 300 ms: fake {verdict(fake20["wall_ms"] <= 300)}, '
          f'replay {verdict(replay20["wall_ms"] <= 300)}, '
          f'first refresh (cold) {verdict(cold20["wall_ms"] <= 300)}')
    print('   (cold: a new process, every service rendered; its daemon CPU includes start-up '
          'and the compression that follows the publication. The other rows are SIGHUP full '
          'refreshes of a running daemon, which re-fetch everything but render only the '
          'services that changed: none here.)')
    total = sum(r['calls'].values())
    detail = ', '.join(f'{op} {c}' for op, c in sorted(r['calls'].items()))
    print(f'   light refresh, nothing changed: {total} AWS calls ({detail}); '
          f'limit {n} + 2 = {n + 2}  {verdict(total <= n + 2)}')
    cpu = f'{r["light_cpu_ms"]:.0f}' if r['light_cpu_ms'] else '< 10'  # CLK_TCK resolution
    print(f'   that light refresh (0 ms added): {r["light_ms"]} ms wall, {cpu} ms of daemon CPU')
    st = r['replay_stats']
    print(f'   replay.py, after the daemon\'s first refresh: {st["hits"]} answers from memory, '
          f'{st["misses"]} forwarded to the fake (0: every timed refresh was replayed)')
    print(load_note(r['background']))


# ---- main ---------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--binary', required=True, help='the cloudmap-sd to measure')
    p.add_argument('--only', default='1,2,3', help='which figures, e.g. 1,3')
    p.add_argument('--rounds', type=int, default=5, help='wrk rounds per server (figure 1)')
    p.add_argument('--duration', type=int, default=10, help='seconds per wrk round')
    p.add_argument('--connections', type=int, default=32)
    p.add_argument('--wrk-threads', type=int, default=2)
    p.add_argument('--memory-duration', type=int, default=20, help='seconds (figure 2)')
    p.add_argument('--refresh-rounds', type=int, default=7, help='per row (figure 3)')
    p.add_argument('--daemon-env', action='append', default=[], metavar='NAME=VALUE',
                   help='also set this in cloudmap-sd\'s environment (e.g. GLIBC_TUNABLES)')
    p.add_argument('--verbose', action='store_true', help='print every round')
    opts = p.parse_args()
    for name in ('rounds', 'duration', 'connections', 'wrk_threads', 'memory_duration',
                 'refresh_rounds'):
        if not 1 <= getattr(opts, name) <= 1000:
            p.error(f'--{name.replace("_", "-")} must be 1..1000')
    opts.figures = {int(x) for x in opts.only.split(',') if x.strip()}
    if not opts.figures <= {1, 2, 3}:
        p.error('--only takes figures 1, 2 and 3')
    for item in opts.daemon_env:
        name, eq, value = item.partition('=')
        if not eq or not name:
            p.error(f'--daemon-env takes NAME=VALUE, not {item!r}')
        Daemon.extra_env[name] = value
    opts.web_flags = []
    if opts.connections > 64:  # the daemon's default per-address limit
        opts.web_flags = [f'--web.max-connections-per-ip={opts.connections}',
                          f'--web.max-connections={max(512, opts.connections)}']
    return opts


def main():
    opts = parse_args()
    # SIGTERM unwinds like an exception, so every phase stops what it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    for tool in ('wrk', 'nginx'):
        if not shutil.which(tool) and not os.path.exists(f'/usr/sbin/{tool}'):
            sys.exit(f'bench: {tool} not found (scripts/setup.sh installs it)')
    print(f'machine: {machine()}')
    print(f'load average at start: {open("/proc/loadavg").read().split()[0]}')
    print(f'software: {versions(opts.binary)}')
    print(f'source: {source_state()}', flush=True)
    if Daemon.extra_env:
        print('cloudmap-sd environment: ' +
              ' '.join(f'{k}={v}' for k, v in sorted(Daemon.extra_env.items())))
    with tempfile.TemporaryDirectory(prefix='cloudmap-sd-bench-') as tmp:
        try:
            if 1 in opts.figures:
                print_throughput(opts, [bench_throughput(opts, tmp, 2, 500),
                                        bench_throughput(opts, tmp, 20, 500)])
            if 2 in opts.figures:
                print_memory(opts, bench_memory(opts, tmp))
            if 3 in opts.figures:
                print_refresh(opts, bench_refresh(opts, tmp))
        except (BenchError, subprocess.SubprocessError, OSError) as e:
            print(f'bench: {e}', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
