# SPDX-License-Identifier: Apache-2.0
"""harness: what the daemon's integration and end-to-end tests share.

Real processes on loopback, nothing else: the AWS fake (test/fake/fakeaws.py,
started once per test file and reset between cases), cloudmap-sd on a free
port, and a TAP runner that gives every case a clean stage and kills
whatever the case started, also when it fails. Every wait polls with a
deadline; nothing sleeps to synchronise.

Python 3 standard library only.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_DIR = os.path.dirname(HERE)
FAKE = os.path.join(TEST_DIR, 'fake', 'fakeaws.py')
POLL_SEC = 0.02  # how often a wait looks again; not a synchronisation
FAKE_READY_SEC = 20
START_SEC = 10
STOP_SEC = 5
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
# What could bring the user's own AWS setup or daemon settings in.
SCRUBBED_PREFIXES = ('AWS_', 'CLOUDMAP_SD_', 'ECS_CONTAINER_METADATA_URI')

_started = []  # every process a case started, killed when the case ends
_daemons = []  # every daemon a case started: stopped and checked, its log shown
_loads = []  # every TargetsLoad a case started, stopped when the case ends


def binary():
    path = os.environ.get('CLOUDMAP_SD_BINARY') or (sys.argv[1] if len(sys.argv) > 1 else '')
    if not path or not os.access(path, os.X_OK):
        raise SystemExit('set CLOUDMAP_SD_BINARY (or pass the path) to the cloudmap-sd binary')
    return path


def free_port():
    """A port nothing listens on right now (the daemon refuses port 0)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    """Polls predicate until it returns a true value (returned), or raises
    AssertionError naming what did not happen within timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except (OSError, http.client.HTTPException) as e:
            last = e
            if time.monotonic() >= deadline:
                raise AssertionError(f'{what}: not within {timeout} s (last: {e!r})') from None
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f'{what}: not within {timeout} s (last: {last!r})')
        time.sleep(POLL_SEC)


def http_request(port, path, method='GET', timeout=5, headers=None, host='127.0.0.1'):
    """One request on a new connection: (status, headers with lower-case
    names, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def strict_json(body):
    """Parses JSON, refusing duplicate object keys (a dict would hide them)."""
    def pairs(items):
        keys = [k for k, _ in items]
        assert len(keys) == len(set(keys)), f'duplicate keys in a JSON object: {keys}'
        return dict(items)
    return json.loads(body, object_pairs_hook=pairs)


def samples(text):
    """Maps 'name{labels}' (as written) to its value, from the text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f'not a sample line: {line!r}'
        out[m.group(1) + (m.group(2) or '')] = float(m.group(3))
    return out


def connections(pid, port, local=False):
    """How many established TCP connections process pid has to 127.0.0.1:port
    (local: from its own port, i.e. accepted by a server listening there).
    The fake counts a call only once it is answered; this sees a call that
    hangs."""
    inodes = set()
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            link = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue  # closed meanwhile
        if link.startswith('socket:['):
            inodes.add(link[8:-1])
    count = 0
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                remote_port = int(fields[1 if local else 2].rsplit(':', 1)[1], 16)
                if fields[3] == '01' and remote_port == port and fields[9] in inodes:
                    count += 1
    return count


class Fake:
    """The AWS fake as a child process, driven through its admin API."""

    def __init__(self, tls_names=None):
        """tls_names: serve the AWS port over HTTPS with a certificate for
        these subject alternative names (e.g. 'IP:127.0.0.1,DNS:localhost'),
        issued by a throwaway CA whose file is self.ca_bundle."""
        self.tmp = tempfile.mkdtemp(prefix='daemontest-fake-')
        ready = os.path.join(self.tmp, 'ready.json')
        argv = [sys.executable, FAKE, 'serve', '--ready-file', ready]
        self.ca_bundle = None
        if tls_names:
            cert, key, self.ca_bundle = make_tls(self.tmp, tls_names)
            argv += ['--tls-cert', cert, '--tls-key', key]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._ready(ready), FAKE_READY_SEC, 'the AWS fake is ready')
        except BaseException:
            self.stop()
            raise
        with open(ready) as f:
            self.info = json.load(f)
        self.admin_url = self.info['admin']

    def _ready(self, path):
        if self.proc.poll() is not None:
            raise AssertionError(f'the AWS fake exited ({self.proc.returncode})')
        return os.path.exists(path)

    def admin(self, route, body=None, method=None):
        """GET (body None) or POST body to the admin route; its JSON answer.
        Raises AssertionError with the fake's error on any other status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f'{self.admin_url}/{route}', data=data,
                                     method=method or ('GET' if body is None else 'POST'))
        req.add_header('Content-Type', 'application/json')
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f'fake admin {route}: {e.code} {e.read().decode()!r}') \
                from None

    def reset(self):
        """Everything back to the start: state, faults, pages, counters, log."""
        self.admin('reset', {})
        self.admin('calls/reset', {})
        self.admin('requests/clear', {})

    def load(self, state):
        self.admin('state', state)

    def calls(self, operation=None):
        """Accepted calls per operation ({op: n}), or of one operation."""
        counts = {op: c['accepted'] for op, c in self.admin('calls').items()}
        return counts.get(operation, 0) if operation else counts

    def aws_port(self):
        return int(self.info['aws'].rsplit(':', 1)[1].split('/')[0])

    def fault(self, **spec):
        return self.admin('faults', spec)['id']

    def clear_faults(self, **which):
        return self.admin('faults/clear', which)['cleared']

    def rejections(self):
        return self.admin('rejections')

    def env(self, **extra):
        """An environment for cloudmap-sd pointing at the fake, with nothing
        of the user's AWS setup or CLOUDMAP_SD_* settings. An extra variable
        set to None is left out (e.g. the default credential)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update({
            'AWS_ENDPOINT_URL': self.info['aws'], 'AWS_REGION': self.info['region'],
            'AWS_EC2_METADATA_DISABLED': 'true',
            'AWS_ACCESS_KEY_ID': self.info['access_key_id'],
            'AWS_SECRET_ACCESS_KEY': self.info['secret_access_key'],
            'AWS_CONFIG_FILE': os.path.join(self.tmp, 'no-aws-config'),
            'AWS_SHARED_CREDENTIALS_FILE': os.path.join(self.tmp, 'no-aws-credentials'),
        })
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def make_tls(directory, names):
    """A throwaway CA and a server certificate for names (subjectAltName
    syntax), made with the openssl CLI in directory: (cert, key, CA file)."""
    p = lambda name: os.path.join(directory, name)  # noqa: E731
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    with open(p('server.ext'), 'w') as f:
        f.write(f'subjectAltName={names}\nbasicConstraints=CA:FALSE\n'
                'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n')
    for args in (
            ['req', '-x509', *ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
             '-subj', '/CN=cloudmap-sd test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
            ['req', *ec, '-keyout', p('server.key'), '-out', p('server.csr'),
             '-subj', '/CN=cloudmap-sd test server'],
            ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
             '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile',
             p('server.ext')]):
        subprocess.run(['openssl', *args], check=True, capture_output=True, timeout=60)
    return p('server.pem'), p('server.key'), p('ca.pem')


def rss_kb(pid):
    """Resident memory of process pid (VmRSS), in KiB."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError(f'no VmRSS for process {pid}')


class TargetsLoad:
    """Clients asking a daemon for a path (GET /targets) over keep-alive
    connections, each in its own thread, at most rate answers a second
    each, until stop(). Every answer is kept as (sent, received, status,
    body), monotonic times; equal bodies share one bytes object. A request
    that fails (error, or the connection closed under it) is kept in
    errors with its time and what went wrong, and the client reconnects."""

    def __init__(self, port, clients=1, rate=50, path='/targets', timeout=5):
        self.port, self.path, self.timeout = port, path, timeout
        self.pause_sec = 1.0 / rate
        self.answers, self.errors = [], []
        self.connects = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        self.bodies = {}

    def start(self):
        _loads.append(self)  # stopped when the case ends
        for t in self.threads:
            t.start()
        return self

    def _run(self):
        conn = None
        while not self.stopping.is_set():
            if conn is None:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=self.timeout)
                with self.lock:
                    self.connects += 1
            sent = time.monotonic()
            try:
                conn.request('GET', self.path)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append((sent, time.monotonic(), repr(e)))
                conn.close()
                conn = None
                self.stopping.wait(self.pause_sec)
                continue
            received = time.monotonic()
            with self.lock:
                body = self.bodies.setdefault(body, body)
                self.answers.append((sent, received, resp.status, body))
            if resp.getheader('Connection', '').lower() == 'close':
                conn.close()
                conn = None
            # Pacing the load, not synchronising.
            self.stopping.wait(max(0.0, self.pause_sec - (received - sent)))
        if conn is not None:
            conn.close()

    def count(self):
        with self.lock:
            return len(self.answers)

    def stop(self):
        """Stops the clients; returns the answers."""
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        return self.answers


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_SEC):
    """Sends sig and waits; kills after timeout. Returns (exit code or None
    when it had to be killed, seconds taken)."""
    if proc.poll() is not None:
        return proc.returncode, 0.0
    start = time.monotonic()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    return rc, time.monotonic() - start


class Daemon:
    """cloudmap-sd on a loopback port, its stderr collected."""

    def __init__(self, fake, *flags, env=None, port=None, wrapper=(), start_sec=START_SEC,
                 headers=None):
        """Starts it with flags (and --log.level=debug) and waits until it
        answers /-/healthy. env: variables added to the fake's environment.
        port: this one, else a free one (tried again when taken meanwhile).
        wrapper: a command that execs the daemon (valgrind, prlimit), so
        that self.proc is still the daemon; start_sec: how long it may take
        to answer. headers: sent by get() when not given its own (e.g. the
        Authorization the daemon's auth flags ask for)."""
        self.headers = headers or {}
        self.log = []
        self.lock = threading.Lock()
        self.wrapper = list(wrapper)
        _daemons.append(self)
        env = fake.env(**(env or {}))
        for _ in range(3):
            self.port = port or free_port()
            self._spawn(flags, env)
            try:
                self.wait_healthy(start_sec)
                return
            except AssertionError:
                # Another process may have taken the free port meanwhile.
                if port or self.proc.poll() is None or 'cannot listen' not in self.text():
                    raise
        raise AssertionError('no free port for cloudmap-sd after 3 attempts')

    def _spawn(self, flags, env):
        self.argv = [binary(), f'--web.listen-address=127.0.0.1:{self.port}',
                     '--log.level=debug', *flags]
        self.proc = subprocess.Popen(self.wrapper + self.argv, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        track(self.proc)
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.lock:
                self.log.append(line.decode(errors='replace').rstrip('\n'))

    def text(self):
        with self.lock:
            return '\n'.join(self.log)

    def get(self, path, method='GET', timeout=5, headers=None):
        return http_request(self.port, path, method, timeout,
                            self.headers if headers is None else headers)

    def wait_healthy(self, timeout=START_SEC):
        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f'cloudmap-sd exited ({self.proc.returncode}) before '
                                     f'it served: {self.text()[-2000:]}')
            return self.get('/-/healthy', timeout=1)[0] == 200
        wait_for(healthy, timeout, 'cloudmap-sd answers /-/healthy')

    def targets(self):
        """(status, parsed body) of GET /targets."""
        status, headers, body = self.get('/targets')
        return status, strict_json(body)

    def wait_targets(self, timeout=10, what='a first successful discovery'):
        """Waits for /targets to answer 200; returns the list."""
        return wait_for(lambda: self._targets_if_ok(), timeout, what)[1]

    def _targets_if_ok(self):
        status, body = self.targets()
        return (True, body) if status == 200 else None

    def metrics(self):
        status, headers, body = self.get('/metrics')
        assert status == 200, f'GET /metrics answered {status}'
        return samples(body.decode())

    def metric(self, key):
        return self.metrics().get(key, 0.0)

    def refreshes(self, kind, result='success'):
        return self.metric(f'cloudmap_sd_refreshes_total{{kind="{kind}",result="{result}"}}')

    def wait_refreshes(self, kind, count, result='success', timeout=10):
        """Waits until at least count refreshes of kind ended with result."""
        return wait_for(lambda: self.refreshes(kind, result) >= count, timeout,
                        f'{count} {kind} refreshes with result {result}')

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_SEC):
        return stop_process(self.proc, sig, timeout)


def track(proc):
    """Has the runner kill proc when the current case ends."""
    _started.append(proc)
    return proc


def run_flags(*flags, env=None, timeout=10):
    """Runs cloudmap-sd to its exit (bad flags, --help): (code, stdout, stderr)."""
    r = subprocess.run([binary(), *flags], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


SANITIZER_MARKS = ('AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'ThreadSanitizer')


def _stop_daemons():
    """Stops every daemon of the case with SIGTERM: each must exit 0 and
    must not have logged a sanitizer report (in a sanitizer build)."""
    problems = []
    for d in _daemons:
        rc, _ = d.stop()
        if rc != 0:
            problems.append(f'{d.argv[1]}... exited {rc} on SIGTERM')
        text = d.text()
        if any(mark in text for mark in SANITIZER_MARKS):
            problems.append(f'{d.argv[1]}... reported: {text[-3000:]}')
    assert not problems, '\n'.join(problems)


def _cleanup():
    while _loads:
        _loads.pop().stop()
    while _started:
        stop_process(_started.pop(), signal.SIGKILL)
    _daemons.clear()


def _diagnose(text):
    for line in text.rstrip('\n').splitlines():
        print(f'# {line}')



PROMETHEUS = os.environ.get('PROMETHEUS_BINARY', '/usr/bin/prometheus')


class Prometheus:
    """The real Prometheus (Debian's) on a free loopback port with the
    configuration text given, its data and log in a temp dir; ready when its
    /-/ready answers. Stop it with stop()."""

    def __init__(self, config, prefix='prometheus-'):
        assert os.access(PROMETHEUS, os.X_OK), f'{PROMETHEUS} not found (Debian prometheus)'
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        path = os.path.join(self.tmp, 'prometheus.yml')
        with open(path, 'w') as f:
            f.write(config)
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, 'prometheus.log')
        with open(self.log_path, 'w') as log:
            self.proc = track(subprocess.Popen(
                [PROMETHEUS, f'--config.file={path}',
                 f'--storage.tsdb.path={os.path.join(self.tmp, "data")}',
                 f'--web.listen-address=127.0.0.1:{self.port}', '--log.level=warn'],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log))
        try:
            wait_for(self._ready, 30, 'Prometheus is ready')
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'prometheus exited ({self.proc.returncode}): {self.log()}')
        return http_request(self.port, '/-/ready', timeout=1)[0] == 200

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def api(self, path, **query):
        url = f'/api/v1/{path}' + ('?' + urllib.parse.urlencode(query) if query else '')
        status, _, body = http_request(self.port, url)
        assert status == 200, f'GET {url}: {status} {body[:200]!r}'
        answer = json.loads(body)
        assert answer['status'] == 'success', answer
        return answer['data']

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_cases(cases, fake=None, after_case=None):
    """Runs each case (a function taking the fake) and prints TAP. Before a
    case the fake is reset. After it, its daemons are stopped with SIGTERM
    and must exit 0 without a sanitizer report, after_case(fake) runs the
    common checks (e.g. no rejections), and whatever is left is killed.
    Returns the exit status. DAEMONTEST_ONLY=word runs only the cases whose
    name holds word (for debugging)."""
    # meson's timeout sends SIGTERM: unwind, so that every finally runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    only = os.environ.get('DAEMONTEST_ONLY')
    if only:
        cases = [c for c in cases if only in c.__name__]
    print(f'1..{len(cases)}', flush=True)
    failed = 0
    for i, case in enumerate(cases, 1):
        name = case.__name__.replace('case_', '').replace('_', ' ')
        start = time.monotonic()
        try:
            if fake:
                fake.reset()
            case(fake)
            _stop_daemons()
            if after_case:
                after_case(fake)
            ok = True
        except Exception:  # noqa: BLE001 -- every failure is reported, not raised
            ok = False
            _diagnose(traceback.format_exc())
            for d in _daemons:
                _diagnose(f'cloudmap-sd {" ".join(d.argv[1:])}:')
                _diagnose(d.text()[-3000:])
        finally:
            _cleanup()
        failed += 0 if ok else 1
        took = time.monotonic() - start
        print(f'{"ok" if ok else "not ok"} {i} - {name} ({took:.1f} s)', flush=True)
    return 1 if failed else 0
