#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""demo: the whole system on one machine, all on loopback (README, "Quick start").

Starts, each as a child process in a process group of its own with its output
in a log file of the demo's temp dir:
  - the local Cloud Map: the test suite's AWS fake (test/fake/fakeaws.py)
    loaded with demo/cloudmap-state.json.in (namespace ecs-services, services
    webapp-svc and node-exporter-svc, instances carrying ECS's attributes);
  - one web app (<build>/webapp/webapp) per instance of webapp-svc, each on
    its instance's own loopback address (127.0.0.2, .3, .4) and the same
    port, as ECS awsvpc tasks each have their own IP;
  - Debian's prometheus-node-exporter on 127.0.0.1;
  - cloudmap-sd pointed at the local Cloud Map;
  - Debian's prometheus with demo/prometheus.yml.in, its storage in the temp
    dir.
It prints the URLs and, once data has arrived, the answers to the three
queries of issue 5, every 15 s, until Ctrl-C (SIGINT) or SIGTERM. The default
ports (19090, 19001, 19100, 3000) keep clear of the ports Debian's own
prometheus and node exporter services take (9090, 9100); each has a flag,
and a port already taken is named, with its flag, before anything starts.

--check is the end-to-end check the test suite runs (see check()): free
ports, every target up, the three queries answered with numbers, a web app
stopped and deregistered disappears from Prometheus's targets; exit 0, or 1
with a message saying what did not happen.

However it ends, every process it started is stopped: SIGTERM to its process
group, SIGKILL after a deadline. The children also get PR_SET_PDEATHSIG, so a
demo that is itself killed leaves nothing running.

Python 3 standard library only; one thread (signal handlers only set a flag).
"""

import argparse
import ctypes
import errno
import json
import math
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_DIR = os.path.join(ROOT, 'demo')
FAKE = os.path.join(ROOT, 'test', 'fake', 'fakeaws.py')
NAMESPACE = 'ecs-services'
WEBAPP_SERVICE = 'webapp-svc'
SD_JOB = 'cloudmap'  # the http_sd job of demo/prometheus.yml.in
SELF_JOB = 'cloudmap-sd'  # its static job scraping cloudmap-sd
REFRESH_INTERVAL = '5s'  # cloudmap-sd's --refresh.interval

POLL_SEC = 0.2  # how often a wait looks again
HTTP_TIMEOUT_SEC = 5
FAKE_READY_SEC = 20
START_SEC = 20  # a web app, the node exporter, cloudmap-sd: up and answering
PROMETHEUS_READY_SEC = 30
STOP_SEC = 10  # SIGTERM to SIGKILL
# Prometheus 2.x hands discovered targets to its scrape manager on a 5 s tick
# and scrapes every 5 s with a random offset; rate() needs two samples.
TARGETS_UP_SEC = 60
NUMBERS_SEC = 60
# Deregistered: cloudmap-sd's refresh (5 s +-10%) + http_sd's (5 s) +
# Prometheus's batching and its scrape manager's tick (10 s), with margin.
DISAPPEAR_SEC = 60
SCRUBBED_PREFIXES = ('AWS_', 'CLOUDMAP_SD_', 'WEBAPP_', 'ECS_CONTAINER_METADATA_URI')
PROXY_VARIABLES = ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')  # any case
PR_SET_PDEATHSIG = 1
FREE_PORTS_LOW = 20000  # --free-ports draws from here to the ephemeral range

QUERIES = [  # (name, PromQL, unit): issue 5's three queries
    ('request rate', 'sum(rate(http_requests_total[5m]))', 'requests/s'),
    ('average latency', 'sum(rate(request_duration_milliseconds_sum[5m])) / '
     'sum(rate(request_duration_milliseconds_count[5m]))', 'ms'),
    ('average CPU', '100 - (avg by (instance) '
     '(rate(node_cpu_seconds_total{mode="idle"}[1m])) * 100)', '%'),
]

# (key, flag, default, what listens there)
PORTS = [
    ('prometheus_port', '--prometheus-port', 19090, 'Prometheus'),
    ('cloudmap_sd_port', '--cloudmap-sd-port', 19001, 'cloudmap-sd'),
    ('node_exporter_port', '--node-exporter-port', 19100, 'the node exporter'),
    ('webapp_port', '--webapp-port', 3000, 'the web apps'),
]


class DemoError(Exception):
    """A failure to report, one line per line of the message (and exit 1)."""


class Stopped(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: stop everything and exit 0."""


# ---------------------------------------------------------------- options


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='demo.py', description='Runs cloudmap-sd with the local Cloud Map, three web apps, '
        'the node exporter and Prometheus, all on loopback, until Ctrl-C.',
        epilog="The default ports keep clear of Debian's own prometheus and node exporter "
        'services (9090, 9100).')
    p.add_argument('--build-dir', default=os.path.join(ROOT, 'build'), metavar='DIR',
                   help='where cloudmap-sd and webapp/webapp were built (default: build)')
    p.add_argument('--cloudmap-sd', metavar='PATH',
                   help='the cloudmap-sd binary (default: DIR/cloudmap-sd)')
    p.add_argument('--webapp', metavar='PATH',
                   help='the web app binary (default: DIR/webapp/webapp)')
    p.add_argument('--prometheus', default='/usr/bin/prometheus', metavar='PATH',
                   help="Debian's prometheus (default: %(default)s)")
    p.add_argument('--node-exporter', default='/usr/bin/prometheus-node-exporter',
                   metavar='PATH', help="Debian's node exporter (default: %(default)s)")
    for key, flag, default, what in PORTS:
        p.add_argument(flag, dest=key, type=port_number, metavar='PORT',
                       help=f'port of {what} (default: {default})')
    p.add_argument('--load-rate', type=int, default=5, metavar='N',
                   help="each web app's internal load, requests/s (default: %(default)s)")
    p.add_argument('--report-interval', type=float, default=15, metavar='SEC',
                   help='how often to print the answers to the queries (default: %(default)s)')
    p.add_argument('--free-ports', action='store_true',
                   help='choose a free port for every port not given by its flag')
    p.add_argument('--check', action='store_true',
                   help='run the end-to-end check instead (implies --free-ports) and exit')
    p.add_argument('--ready-file', metavar='FILE',
                   help='write the URLs and process ids here (JSON) once up')
    p.add_argument('--keep-temp', action='store_true',
                   help='keep the temp dir (logs, Prometheus data) after a clean exit')
    opts = p.parse_args(argv)
    opts.free_ports = opts.free_ports or opts.check
    # The children run in the temp dir: every path absolute.
    opts.cloudmap_sd = os.path.abspath(opts.cloudmap_sd or
                                       os.path.join(opts.build_dir, 'cloudmap-sd'))
    opts.webapp = os.path.abspath(opts.webapp or os.path.join(opts.build_dir, 'webapp', 'webapp'))
    opts.prometheus = os.path.abspath(opts.prometheus)
    opts.node_exporter = os.path.abspath(opts.node_exporter)
    return opts


def port_number(text):
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f'not a port number (1..65535): {text!r}')
    return int(text)


def check_binaries(opts):
    hints = {'cloudmap_sd': 'build it (scripts/build.sh build) or pass --cloudmap-sd',
             'webapp': 'build it (scripts/build.sh build) or pass --webapp',
             'prometheus': "install Debian's prometheus (scripts/setup.sh --demo) "
                           'or pass --prometheus',
             'node_exporter': "install Debian's prometheus-node-exporter "
                              '(scripts/setup.sh --demo) or pass --node-exporter'}
    for key, hint in hints.items():
        path = getattr(opts, key)
        if not os.access(path, os.X_OK):
            raise DemoError(f'no executable {path}: {hint}')


# ------------------------------------------------------------------ state


def render(name, **values):
    """demo/<name> with its ${...} placeholders filled in."""
    with open(os.path.join(DEMO_DIR, name)) as f:
        return string.Template(f.read()).substitute(values)


def cloudmap_state(webapp_port, node_exporter_port, region='us-east-1'):
    return json.loads(render('cloudmap-state.json.in', webapp_port=webapp_port,
                             node_exporter_port=node_exporter_port, region=region))


def services(state):
    """(namespace name, service) of every service in the state."""
    return [(ns['Name'], svc) for ns in state['namespaces'] for svc in ns.get('services', [])]


def webapp_instances(state):
    """The instances of webapp-svc: one web app each."""
    return [inst for ns, svc in services(state) if svc['Name'] == WEBAPP_SERVICE
            for inst in svc['instances']]


def expected_targets(state, cloudmap_sd_address):
    """address -> (job, labels after relabeling) of every target the
    demo's Prometheus must have: one per instance of a scraped service, and
    cloudmap-sd itself."""
    out = {cloudmap_sd_address: (SELF_JOB, {})}
    for ns, svc in services(state):
        if 'METRICS_PATH' not in svc.get('Tags', {}):
            continue
        for inst in svc['instances']:
            attrs = inst['Attributes']
            address = f"{attrs['AWS_INSTANCE_IPV4']}:{svc['Tags']['METRICS_PORT']}"
            out[address] = (SD_JOB, {
                'namespace': ns, 'cluster': attrs['ECS_CLUSTER_NAME'],
                'service': attrs.get('ECS_SERVICE_NAME') or svc['Name']})
    return out


# ------------------------------------------------------------------ ports


def port_problem(host, port):
    """None when host:port can be listened on now, else why not."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return 'is already in use' if e.errno == errno.EADDRINUSE else f'cannot be used: {e}'
    return None


def ephemeral_ports_start():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(hosts, taken):
    """A port free on every one of hosts and not in taken. Drawn below the
    ephemeral range: the kernel hands those to outgoing connections (and
    to bind(0)), which could take one before its process listens."""
    high = ephemeral_ports_start()
    low = min(FREE_PORTS_LOW, high - 1000)
    for _ in range(100):
        port = random.randrange(low, high)
        if port not in taken and not any(port_problem(h, port) for h in hosts):
            return port
    raise DemoError(f'no free port in {low}..{high - 1} on {", ".join(hosts)} after 100 tries')


def choose_ports(opts, webapp_hosts):
    """Fills opts' ports: the flag's, else a free one (--free-ports), else
    the default. Raises DemoError naming every port that cannot be used and
    its flag, before anything has started."""
    taken, problems = set(), []
    for key, flag, default, what in PORTS:
        hosts = webapp_hosts if key == 'webapp_port' else ['127.0.0.1']
        port = getattr(opts, key)
        if port is None:
            port = free_port(hosts, taken) if opts.free_ports else default
        elif port in taken:
            problems.append(f'port {port} ({flag}) is also given to another process')
        taken.add(port)
        setattr(opts, key, port)
        for host in hosts:
            why = port_problem(host, port)
            if why:
                problems.append(f'port {port} on {host} (for {what}) {why}: '
                                f'choose another with {flag}=PORT')
    if problems:
        raise DemoError('\n'.join(problems))


# -------------------------------------------------------------- processes


def _child_setup(parent_pid, libc):
    """Runs in each child before exec: a process group of its own (so the
    terminal's Ctrl-C reaches only the demo, which stops the children in
    order), and SIGTERM when the demo dies."""
    os.setpgid(0, 0)
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def load_libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def clean_env(**extra):
    """The demo's environment without anything that could bring the user's
    AWS setup, cloudmap-sd / web app settings or a proxy (everything here is
    on loopback) in, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(SCRUBBED_PREFIXES) and k.lower() not in PROXY_VARIABLES}
    env.update(extra)
    return env


_signal_received = None  # set by the handler, read by Stack.check()


def _on_signal(signum, frame):
    global _signal_received
    _signal_received = signum


def catch_signals():
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP only set a flag: the demo then
    stops what it started, in order, and exits 0."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


class Child:
    def __init__(self, name, proc, log_path):
        self.name, self.proc, self.log_path = name, proc, log_path
        self.expected_exit = False  # stopped on purpose (--check)

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors='replace') as f:
                text = f.read().rstrip('\n').splitlines()[-lines:]
        except OSError:
            return ''
        return ''.join(f'\n    | {line}' for line in text)


class Stack:
    """The processes the demo started, their logs, and the waits that
    watch them (and the signal flag) while they run."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.logs = os.path.join(tmp, 'logs')
        os.mkdir(self.logs)
        self.children = []
        self.libc = load_libc()

    def spawn(self, name, argv, env=None):
        log_path = os.path.join(self.logs, f'{name}.log')
        parent, libc = os.getpid(), self.libc
        try:
            with open(log_path, 'wb') as log:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env or clean_env(), cwd=self.tmp,
                    preexec_fn=lambda: _child_setup(parent, libc))
        except OSError as e:
            raise DemoError(f'cannot start {name} ({argv[0]}): {e}') from None
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def check(self):
        """Raises Stopped after a signal, DemoError when a child exited."""
        if _signal_received is not None:
            raise Stopped()
        for c in self.children:
            if not c.expected_exit and c.proc.poll() is not None:
                raise DemoError(f'{c.name} exited with status {c.proc.returncode}; '
                                f'the end of {c.log_path}:{c.log_tail()}')

    def pause(self, sec):
        """Sleeps up to sec; returns early (raising Stopped) on a signal."""
        deadline = time.monotonic() + sec
        while time.monotonic() < deadline:
            self.check()
            time.sleep(min(POLL_SEC, max(0, deadline - time.monotonic())))
        self.check()

    def wait_for(self, what, timeout_sec, probe):
        """Polls probe() until it returns something true (returned); raises
        DemoError naming what did not happen within timeout_sec."""
        deadline = time.monotonic() + timeout_sec
        last = None
        while True:
            self.check()
            try:
                got = probe()
            except (OSError, ValueError, KeyError) as e:
                got, last = None, e
            if got:
                return got
            if time.monotonic() >= deadline:
                detail = f' (last: {last})' if last else ''
                raise DemoError(f'{what}: not within {timeout_sec} s{detail}')
            time.sleep(POLL_SEC)

    def stop_child(self, child):
        """Stops one child (see stop_all); returns its exit status, None
        when it had to be killed."""
        child.expected_exit = True
        if child.proc.poll() is None:
            _signal_group(child, signal.SIGTERM)
        try:
            return child.proc.wait(STOP_SEC)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.proc.wait()
            return None

    def stop_all(self):
        """Sends SIGTERM to every child's process group, the last started
        first, and SIGKILL to those still there after STOP_SEC. Returns one
        line for each child that did not exit cleanly."""
        running = [c for c in reversed(self.children) if c.proc.poll() is None]
        for c in running:
            c.expected_exit = True
            _signal_group(c, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SEC
        problems = []
        for c in running:
            problems += self._reap(c, deadline)
        return problems

    def _reap(self, child, deadline):
        try:
            rc = child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.proc.wait()
            return [f'{child.name} did not stop within {STOP_SEC} s of SIGTERM: killed']
        if rc in (0, -signal.SIGTERM):
            return []
        return [f'{child.name} exited with status {rc} on SIGTERM; '
                f'the end of {child.log_path}:{child.log_tail()}']


def _signal_group(child, sig):
    """Signals the child's whole process group. Only called before the
    child is reaped: until then its pid, which is the group's id, cannot be
    reused, so this never reaches a stranger."""
    try:
        os.killpg(child.proc.pid, sig)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------- HTTP

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def http_get(url):
    """(status, body) of a GET; an error status is returned, not raised."""
    try:
        with _opener.open(url, timeout=HTTP_TIMEOUT_SEC) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_ok(url):
    return http_get(url)[0] == 200


def post_json(url, body):
    """POSTs body as JSON; its JSON answer. Raises DemoError unless 200."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method='POST',
                                 headers={'Content-Type': 'application/json'})
    try:
        with _opener.open(req, timeout=HTTP_TIMEOUT_SEC) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise DemoError(f'POST {url}: {e.code} {e.read()[:300]!r}') from None
    except OSError as e:
        raise DemoError(f'POST {url}: {e}') from None


class PrometheusApi:
    def __init__(self, port):
        self.base = f'http://127.0.0.1:{port}/api/v1/'

    def get(self, path, **query):
        """The data of an API answer; ValueError unless it is a success."""
        status, body = http_get(self.base + path + '?' + urllib.parse.urlencode(query))
        answer = json.loads(body)
        if status != 200 or answer.get('status') != 'success':
            raise ValueError(f'GET /api/v1/{path}: {status} {answer.get("error")}')
        return answer['data']

    def active_targets(self):
        """address -> active target, of the demo's two jobs."""
        targets = self.get('targets', state='active')['activeTargets']
        return {t['labels']['instance']: t for t in targets
                if t['scrapePool'] in (SD_JOB, SELF_JOB)}

    def query(self, expr):
        """[(labels, value)] of an instant query (a vector)."""
        result = self.get('query', query=expr)['result']
        return [(r['metric'], float(r['value'][1])) for r in result]


def answers(prom):
    """name -> [(labels, value)] of each of QUERIES; ValueError while one
    has no finite number yet."""
    out = {}
    for name, expr, unit in QUERIES:
        rows = prom.query(expr)
        if not rows or not all(math.isfinite(v) for _, v in rows):
            raise ValueError(f'{name}: no number yet ({rows})')
        out[name] = rows
    return out


def format_answers(got):
    parts = []
    for name, expr, unit in QUERIES:
        for labels, value in got[name]:
            where = f' on {labels["instance"]}' if 'instance' in labels else ''
            parts.append(f'{name}{where} {value:.2f} {unit}')
    return f'{time.strftime("%H:%M:%S")}  ' + ' | '.join(parts)


# ----------------------------------------------------------- the stack


def say(text):
    print(text, flush=True)


def start_fake(stack, state):
    """The local Cloud Map, loaded with state; its ready file's contents."""
    state_path = os.path.join(stack.tmp, 'cloudmap-state.json')
    with open(state_path, 'w') as f:
        json.dump(state, f, indent=1)
    ready = os.path.join(stack.tmp, 'cloudmap-ready.json')
    stack.spawn('local-cloudmap', [sys.executable, FAKE, 'serve', '--ready-file', ready,
                                   '--state', state_path, '--exit-with-parent'])
    stack.wait_for('the local Cloud Map is ready', FAKE_READY_SEC, lambda: os.path.exists(ready))
    with open(ready) as f:
        return json.load(f)


def start_webapps(stack, opts, state):
    """One web app per instance of webapp-svc: [(instance, child, url)]."""
    out = []
    for i, inst in enumerate(webapp_instances(state), 1):
        address = f'{inst["Attributes"]["AWS_INSTANCE_IPV4"]}:{opts.webapp_port}'
        child = stack.spawn(f'webapp-{i}', [opts.webapp, f'--web.listen-address={address}',
                                            f'--load.rate={opts.load_rate}'])
        out.append((inst, child, f'http://{address}'))
    return out


def start_node_exporter(stack, opts):
    url = f'http://127.0.0.1:{opts.node_exporter_port}'
    stack.spawn('node-exporter', [opts.node_exporter,
                                  f'--web.listen-address=127.0.0.1:{opts.node_exporter_port}'])
    return url


def start_cloudmap_sd(stack, opts, fake):
    """cloudmap-sd with the local Cloud Map as its AWS, and nothing of the
    user's AWS setup."""
    env = clean_env(AWS_ENDPOINT_URL=fake['aws'], AWS_REGION=fake['region'],
                    AWS_ACCESS_KEY_ID=fake['access_key_id'],
                    AWS_SECRET_ACCESS_KEY=fake['secret_access_key'],
                    AWS_EC2_METADATA_DISABLED='true',
                    AWS_CONFIG_FILE=os.path.join(stack.tmp, 'no-aws-config'),
                    AWS_SHARED_CREDENTIALS_FILE=os.path.join(stack.tmp, 'no-aws-credentials'))
    stack.spawn('cloudmap-sd', [opts.cloudmap_sd,
                                f'--web.listen-address=127.0.0.1:{opts.cloudmap_sd_port}',
                                f'--cloudmap.namespaces={NAMESPACE}',
                                f'--refresh.interval={REFRESH_INTERVAL}'], env)
    return f'http://127.0.0.1:{opts.cloudmap_sd_port}'


def start_prometheus(stack, opts):
    config = os.path.join(stack.tmp, 'prometheus.yml')
    with open(config, 'w') as f:
        f.write(render('prometheus.yml.in',
                       cloudmap_sd_address=f'127.0.0.1:{opts.cloudmap_sd_port}'))
    stack.spawn('prometheus', [opts.prometheus, f'--config.file={config}',
                               f'--storage.tsdb.path={os.path.join(stack.tmp, "prometheus-data")}',
                               f'--web.listen-address=127.0.0.1:{opts.prometheus_port}'])
    url = f'http://127.0.0.1:{opts.prometheus_port}'
    stack.wait_for('Prometheus is ready', PROMETHEUS_READY_SEC,
                   lambda: http_ok(f'{url}/-/ready'))
    return url


def start_all(stack, opts, state):
    """Starts everything, each waited for; the URLs to print."""
    fake = start_fake(stack, state)
    webapps = start_webapps(stack, opts, state)
    node_exporter = start_node_exporter(stack, opts)
    cloudmap_sd = start_cloudmap_sd(stack, opts, fake)
    for _, child, url in webapps:
        stack.wait_for(f'{child.name} answers on {url}', START_SEC,
                       lambda u=url: http_ok(f'{u}/-/healthy'))
    stack.wait_for(f'the node exporter answers on {node_exporter}', START_SEC,
                   lambda: http_ok(f'{node_exporter}/metrics'))
    stack.wait_for('cloudmap-sd has discovered the local Cloud Map', START_SEC,
                   lambda: http_ok(f'{cloudmap_sd}/-/ready'))
    prometheus = start_prometheus(stack, opts)
    return {'prometheus': prometheus, 'cloudmap_sd': cloudmap_sd,
            'node_exporter': node_exporter, 'webapps': webapps,
            'local_cloudmap': fake['aws'], 'local_cloudmap_admin': fake['admin']}


def print_urls(stack, urls):
    webapps = ', '.join(f'{url}/metrics' for _, _, url in urls['webapps'])
    say(f"""
cloudmap-sd demo: up, all on loopback. Ctrl-C stops everything.
  Prometheus               {urls['prometheus']}/  (its targets: {urls['prometheus']}/targets)
  cloudmap-sd status page  {urls['cloudmap_sd']}/
  cloudmap-sd targets      {urls['cloudmap_sd']}/targets
  web apps                 {webapps}
  node exporter            {urls['node_exporter']}/metrics
  local Cloud Map          {urls['local_cloudmap']}  (admin API: {urls['local_cloudmap_admin']})
  logs                     {stack.logs}/
The queries:""")
    for name, expr, unit in QUERIES:
        say(f'  {name + ":":17s}{expr}')


def write_ready_file(path, stack, urls):
    """For scripts and tests: the URLs and the process ids, atomically."""
    info = {'pid': os.getpid(), 'tmp': stack.tmp, 'logs': stack.logs,
            'children': {c.name: c.proc.pid for c in stack.children},
            'urls': {k: v for k, v in urls.items() if k != 'webapps'}}
    info['urls']['webapps'] = [url for _, _, url in urls['webapps']]
    with open(path + '.tmp', 'w') as f:
        json.dump(info, f, indent=1)
    os.replace(path + '.tmp', path)


# --------------------------------------------------- the two ways to run


def report_forever(stack, prom, opts):
    """Prints the answers to the queries every --report-interval seconds,
    once they have numbers, until a signal (Stopped)."""
    say('\nWaiting for data: rate() needs two scrapes of every series (about 20 s).\n'
        "The rates are over 5m and 1m windows: until that much has been collected,\n"
        'request rate reads low and CPU (1 - idle) reads high.')
    next_at, waiting_since, warned = 0.0, time.monotonic(), False
    while True:
        now = time.monotonic()
        if now >= next_at:
            try:
                say(format_answers(answers(prom)))
                next_at = now + opts.report_interval
            except (OSError, ValueError, KeyError) as e:
                next_at = now + 1
                if not warned and now - waiting_since > NUMBERS_SEC:
                    say(f'Still no numbers after {NUMBERS_SEC} s ({e}); see the logs.')
                    warned = True
        stack.pause(POLL_SEC)


def targets_up(prom, expected):
    """The active targets once exactly the expected ones are active and
    all up; ValueError saying what is missing meanwhile."""
    active = prom.active_targets()
    missing = sorted(set(expected) - set(active))
    extra = sorted(set(active) - set(expected))
    down = sorted(a for a, t in active.items() if t['health'] != 'up')
    if missing or extra or down:
        raise ValueError(f'missing {missing}, unexpected {extra}, not up {down}')
    return active


def only_targets(prom, expected):
    """True once exactly the expected targets are active; ValueError saying
    what differs meanwhile."""
    active = set(prom.active_targets())
    if active != set(expected):
        raise ValueError(f'active: {sorted(active)}')
    return True


def check_labels(active, expected):
    for address, (job, labels) in expected.items():
        got = active[address]['labels']
        want = dict(labels, job=job, instance=address)
        wrong = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
        if wrong:
            raise DemoError(f'target {address} has labels {got}, want {want}')


def remove_webapp(stack, urls):
    """Stops the last web app and deregisters its instance, as ECS does when
    a task stops; returns its target address."""
    inst, child, url = urls['webapps'][-1]
    rc = stack.stop_child(child)
    if rc != 0:
        raise DemoError(f'{child.name} exited with status {rc} on SIGTERM; '
                        f'the end of {child.log_path}:{child.log_tail()}')
    post_json(f'{urls["local_cloudmap_admin"]}/instances/deregister',
              {'NamespaceName': NAMESPACE, 'ServiceName': WEBAPP_SERVICE,
               'InstanceId': inst['Id']})
    return url.split('//', 1)[1]


def check(stack, prom, state, urls):
    """The end-to-end check (--check)."""
    start = time.monotonic()
    expected = expected_targets(state, urls['cloudmap_sd'].split('//', 1)[1])
    active = stack.wait_for('Prometheus reports every target up', TARGETS_UP_SEC,
                            lambda: targets_up(prom, expected))
    check_labels(active, expected)
    say(f'check: all {len(expected)} targets up, labelled '
        f'({time.monotonic() - start:.1f} s)')
    got = stack.wait_for('the three queries return numbers', NUMBERS_SEC,
                         lambda: answers(prom))
    say(f'check: the queries answer ({time.monotonic() - start:.1f} s): {format_answers(got)}')
    gone = remove_webapp(stack, urls)
    rest = {a: v for a, v in expected.items() if a != gone}
    stack.wait_for(f"the stopped and deregistered {gone} leaves Prometheus's targets",
                   DISAPPEAR_SEC, lambda: only_targets(prom, rest))
    say(f'check: {gone} stopped, deregistered and gone from Prometheus '
        f'({time.monotonic() - start:.1f} s)')
    status, body = http_get(f'{urls["local_cloudmap_admin"]}/rejections')
    if status != 200 or json.loads(body):
        raise DemoError(f'the local Cloud Map refused requests of cloudmap-sd: {body[:2000]!r}')
    say('check: OK')


def run(stack, opts):
    state = cloudmap_state(opts.webapp_port, opts.node_exporter_port)
    say(f'Starting the demo; the logs go to {stack.logs}/')
    urls = start_all(stack, opts, state)
    print_urls(stack, urls)
    if opts.ready_file:
        write_ready_file(opts.ready_file, stack, urls)
    prom = PrometheusApi(opts.prometheus_port)
    if opts.check:
        check(stack, prom, state, urls)
    else:
        report_forever(stack, prom, opts)


def teardown(stack, opts, rc):
    """Stops everything; removes the temp dir after a clean run (unless
    --keep-temp). Returns the exit code."""
    problems = stack.stop_all()
    for p in problems:
        print(f'demo: {p}', file=sys.stderr, flush=True)
    if problems:
        rc = 1
    if rc == 0 and not opts.keep_temp:
        shutil.rmtree(stack.tmp, ignore_errors=True)
    else:
        say(f'demo: the logs are kept in {stack.logs}/')
    say('demo: every process it started is stopped')
    return rc


def main(argv=None):
    catch_signals()
    opts = parse_args(argv)
    stack, rc = None, 0
    try:
        check_binaries(opts)
        instances = webapp_instances(cloudmap_state(0, 0))  # only their addresses count here
        choose_ports(opts, [i['Attributes']['AWS_INSTANCE_IPV4'] for i in instances])
        stack = Stack(tempfile.mkdtemp(prefix='cloudmap-sd-demo-'))
        run(stack, opts)
    except Stopped:
        say(f'\ndemo: {signal.Signals(_signal_received).name}: stopping')
    except DemoError as e:
        for line in str(e).splitlines():
            print(f'demo: {line}', file=sys.stderr, flush=True)
        rc = 1
    finally:
        if stack is not None:
            rc = teardown(stack, opts, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
