#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-dropin: cloudmap-sd as the Go side-car's drop-in, and its file_sd
output and warm start, as real processes against the AWS fake.

Run by meson under test/fake/run-with-fakes.py (FAKE_ADMIN_URL, AWS_* set);
CLOUDMAP_SD_BINARY names the binary. The daemon gets exactly the side-car's
task-definition environment and no flag but --web.listen-address (a free
loopback port), unless a case says otherwise. Every wait polls with a
deadline; every process a case starts is killed when it ends. Prints TAP.
Python 3 standard library only.
"""

import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

POLL_SEC = 0.02
WAIT_SEC = 20
STOP_SEC = 5
SIDECAR_VARS = ('CONFIG_FILE_DIR', 'CONFIG_RELOAD_FREQUENCY', 'PROMETHEUS_CONFIG_PARAMETER_NAME',
                'DISCOVERY_NAMESPACES_PARAMETER_NAME', 'SERVICE_DISCOVERY_MODE',
                'DEPLOYMENT_MODE')
NS_PARAM = '/sidecar/namespaces'
PROM_PARAM = '/sidecar/prometheus'
PROM_YAML = 'global:\n  scrape_interval: 15s\nscrape_configs: []\n'
PROM_YAML_2 = 'global:\n  scrape_interval: 30s\nscrape_configs: []\n'

STATE = {
    'namespaces': [
        {'Name': 'ecs-ns', 'Type': 'HTTP', 'services': [
            {'Name': 'web', 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': [
                {'Id': 'task-1', 'Attributes': {
                    'AWS_INSTANCE_IPV4': '10.0.0.1', 'AWS_INSTANCE_PORT': '8080',
                    'ECS_CLUSTER_NAME': 'c1', 'ECS_SERVICE_NAME': 'web-svc',
                    'ECS_TASK_DEFINITION_FAMILY': 'web-td'}}]}]},
        {'Name': 'not-listed', 'Type': 'HTTP', 'services': [
            {'Name': 'db', 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': [
                {'Id': 'task-9', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.9'}}]}]}],
    'ssm_parameters': [
        {'Name': NS_PARAM, 'Value': 'ecs-ns', 'Type': 'String'},
        {'Name': PROM_PARAM, 'Value': PROM_YAML, 'Type': 'String'}],
}

# A file of the shape cloudmap-sd writes, with a target AWS does not have.
WARM_FILE = ('[{"targets":["10.9.9.9:9100"],"labels":{"__meta_cloudmap_namespace_name":'
             '"ecs-ns","__meta_cloudmap_service_name":"old","cluster":"c0"}}]')

_procs = []  # what the running case started


# ---- plumbing ----

def binary():
    path = os.environ.get('CLOUDMAP_SD_BINARY', '')
    if not os.access(path, os.X_OK):
        raise SystemExit('set CLOUDMAP_SD_BINARY to the cloudmap-sd binary')
    return path


def wait_for(predicate, what, timeout=WAIT_SEC):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, http.client.HTTPException) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f'{what}: not within {timeout} s (last: {last!r})')
        time.sleep(POLL_SEC)


def admin(route, body=None):
    url = f"{os.environ['FAKE_ADMIN_URL']}/{route}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method='GET' if body is None else 'POST',
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def get_parameter_calls(name):
    """Accepted GetParameter requests for name so far."""
    return sum(1 for e in admin('requests')
               if e.get('operation') == 'GetParameter' and e.get('verdict') == 'accepted'
               and (e.get('params') or {}).get('Name') == name)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def http_get(port, path):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def metric(port, name):
    status, body = http_get(port, '/metrics')
    if status != 200:
        return None
    for line in body.decode().splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def read(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return None


class Daemon:
    """cloudmap-sd on a free port with the given extra environment."""

    def __init__(self, env, args=(), tmp=None):
        self.port = free_port()
        self.log_path = os.path.join(tmp, f'daemon-{self.port}.log')
        base = {k: v for k, v in os.environ.items()
                if not k.startswith('CLOUDMAP_SD_') and k not in SIDECAR_VARS}
        base.update(env)
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(
            [binary(), f'--web.listen-address=127.0.0.1:{self.port}', *args],
            env=base, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        _procs.append(self)

    def text(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'cloudmap-sd exited ({self.proc.returncode}):\n{self.text()}')
        return http_get(self.port, '/-/healthy')[0] == 200

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_SEC)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def sidecar_env(tmp, **extra):
    env = {'CONFIG_FILE_DIR': tmp, 'CONFIG_RELOAD_FREQUENCY': '1',
           'PROMETHEUS_CONFIG_PARAMETER_NAME': PROM_PARAM,
           'DISCOVERY_NAMESPACES_PARAMETER_NAME': NS_PARAM}
    env.update(extra)
    return env


def full_refreshes():
    """ListNamespaces calls so far: one per full refresh."""
    return admin('calls').get('ListNamespaces', {}).get('total', 0)


def wait_refreshes(n):
    """Waits until n more full refreshes have asked AWS."""
    start = full_refreshes()
    wait_for(lambda: full_refreshes() >= start + n, f'{n} more full refreshes')


def targets_of(body):
    return sorted(t for g in json.loads(body) for t in g['targets'])


def no_rejections():
    rejected = admin('rejections')
    assert rejected == [], f'the fake rejected requests: {rejected[:3]}'


def files_in(tmp):
    return sorted(f for f in os.listdir(tmp) if not f.startswith('daemon-'))


# ---- cases ----

def case_file_mode(tmp):
    """The side-car's environment: ecs-services.json with legacy labels,
    prometheus.yaml from the parameter (and again when it changes), the
    HTTP endpoint, the mode logged."""
    d = Daemon(sidecar_env(tmp), tmp=tmp)
    services = os.path.join(tmp, 'ecs-services.json')
    prom = os.path.join(tmp, 'prometheus.yaml')
    body = wait_for(lambda: read(services), 'ecs-services.json appears')
    groups = json.loads(body)
    assert [g['targets'] for g in groups] == [['10.0.0.1:8080']], groups
    labels = groups[0]['labels']
    for k, v in {'cluster': 'c1', 'service': 'web-svc', 'taskdefinition': 'web-td',
                 'namespace': 'ecs-ns', 'taskid': 'task-1'}.items():
        assert labels.get(k) == v, f'legacy label {k}: {labels.get(k)!r}'
    wait_for(lambda: read(prom) == PROM_YAML.encode(), 'prometheus.yaml has the parameter')
    status, served = http_get(d.port, '/prometheus-targets')
    assert status == 200 and served == read(services), (status, served)
    admin('ssm/parameters', {'Name': PROM_PARAM, 'Value': PROM_YAML_2})
    wait_for(lambda: read(prom) == PROM_YAML_2.encode(), 'prometheus.yaml follows the parameter')
    admin('instances/register', {'NamespaceName': 'ecs-ns', 'ServiceName': 'web',
                                 'InstanceId': 'task-2',
                                 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.2',
                                                'AWS_INSTANCE_PORT': '8080'}})
    wait_for(lambda: targets_of(read(services)) == ['10.0.0.1:8080', '10.0.0.2:8080'],
             'ecs-services.json follows Cloud Map')
    assert files_in(tmp) == ['ecs-services.json', 'prometheus.yaml'], files_in(tmp)
    log = d.text()
    assert 'drop-in mode for the Go side-car' in log and 'FILE_BASED' in log, log
    no_rejections()


def case_otel_leaves_prometheus_yaml_alone(tmp):
    """DEPLOYMENT_MODE=OTEL: the targets file only; the parameter unread."""
    Daemon(sidecar_env(tmp, DEPLOYMENT_MODE='OTEL'), tmp=tmp)
    wait_for(lambda: read(os.path.join(tmp, 'ecs-services.json')), 'ecs-services.json appears')
    wait_refreshes(3)
    assert files_in(tmp) == ['ecs-services.json'], files_in(tmp)
    assert get_parameter_calls(PROM_PARAM) == 0
    assert get_parameter_calls(NS_PARAM) >= 3
    no_rejections()


def case_http_based_writes_nothing(tmp):
    """SERVICE_DISCOVERY_MODE=HTTP_BASED: serving only, with legacy labels."""
    d = Daemon(sidecar_env(tmp, SERVICE_DISCOVERY_MODE='HTTP_BASED'), tmp=tmp)
    body = wait_for(lambda: (lambda r: r[0] == 200 and r[1])(http_get(d.port,
                                                                    '/prometheus-targets')),
                    '/prometheus-targets answers')
    groups = json.loads(body)
    assert targets_of(body) == ['10.0.0.1:8080'], body
    assert groups[0]['labels'].get('taskid') == 'task-1', groups
    wait_refreshes(3)
    assert files_in(tmp) == [], files_in(tmp)
    assert get_parameter_calls(PROM_PARAM) == 0
    no_rejections()


def case_plain_file_sd(tmp):
    """--file-sd.path without the side-car's variables: the same bytes as
    /targets, the current labels, nothing else written."""
    path = os.path.join(tmp, 'targets.json')
    d = Daemon({}, ['--cloudmap.namespaces=ecs-ns', f'--file-sd.path={path}',
                    '--refresh.interval=1s'], tmp=tmp)
    wait_for(lambda: read(path), 'the file_sd file appears')
    status, served = http_get(d.port, '/targets')
    assert status == 200 and served == read(path), (served, read(path))
    assert 'taskid' not in json.loads(served)[0]['labels']
    assert files_in(tmp) == ['targets.json'], files_in(tmp)
    assert 'drop-in' not in d.text()


def case_warm_start(tmp):
    """An existing file and AWS failing: its targets are served and called
    warm; once AWS answers, the real targets replace them."""
    services = os.path.join(tmp, 'ecs-services.json')
    with open(services, 'w') as f:
        f.write(WARM_FILE)
    admin('faults', {'operation': '*', 'kind': 'error', 'status': 500,
                     'code': 'InternalFailure'})
    d = Daemon(sidecar_env(tmp), tmp=tmp)
    wait_for(d.healthy, 'cloudmap-sd serves')
    status, body = http_get(d.port, '/targets')
    assert status == 200 and body == WARM_FILE.encode(), (status, body)
    assert metric(d.port, 'cloudmap_sd_snapshot_warm_start') == 1
    start = admin('calls').get('GetParameter', {}).get('faulted', 0)
    wait_for(lambda: admin('calls').get('GetParameter', {}).get('faulted', 0) >= start + 2,
             'two more refreshes fail')
    assert http_get(d.port, '/targets') == (200, WARM_FILE.encode())
    assert metric(d.port, 'cloudmap_sd_snapshot_warm_start') == 1
    assert read(services) == WARM_FILE.encode()  # nothing better to write yet
    admin('faults/clear', {})
    wait_for(lambda: metric(d.port, 'cloudmap_sd_snapshot_warm_start') == 0,
             'warm_start drops to 0 after a refresh')
    assert targets_of(http_get(d.port, '/targets')[1]) == ['10.0.0.1:8080']
    wait_for(lambda: targets_of(read(services)) == ['10.0.0.1:8080'], 'the file is rewritten')
    assert 'warm start' in d.text()


def case_corrupt_file(tmp):
    """A corrupt file at start is reported and ignored, then replaced."""
    services = os.path.join(tmp, 'ecs-services.json')
    with open(services, 'w') as f:
        f.write('[{"targets": ["10.1.1.1:80"]')
    admin('faults', {'operation': '*', 'kind': 'error', 'status': 500,
                     'code': 'InternalFailure'})
    d = Daemon(sidecar_env(tmp), tmp=tmp)
    wait_for(d.healthy, 'cloudmap-sd serves despite the corrupt file')
    assert http_get(d.port, '/targets')[0] == 503  # nothing to serve yet
    wait_for(lambda: 'ignoring the file_sd file for the warm start' in d.text(),
             'the corrupt file is logged')
    assert 'not JSON' in d.text(), d.text()
    admin('faults/clear', {})
    wait_for(lambda: targets_of(read(services)) == ['10.0.0.1:8080'], 'the file is replaced')


class ReloadServer:
    """Counts POST /-/reload; answers the statuses given, then 200."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.seen = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                status = owner.statuses.pop(0) if owner.statuses else 200
                owner.seen.append((self.path, status))
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/-/reload'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def case_reload_url(tmp):
    """--prometheus.reload-url: POSTed after prometheus.yaml changed (and
    again until it works), not after ecs-services.json changed, not after a
    restart that finds the same file."""
    server = ReloadServer(statuses=[503])
    try:
        args = [f'--prometheus.reload-url={server.url}']
        d = Daemon(sidecar_env(tmp), args, tmp=tmp)
        wait_for(lambda: len(server.seen) >= 2, 'a failed reload is retried')
        assert server.seen == [('/-/reload', 503), ('/-/reload', 200)], server.seen
        wait_refreshes(3)
        admin('instances/register', {'NamespaceName': 'ecs-ns', 'ServiceName': 'web',
                                     'InstanceId': 'task-3',
                                     'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.3'}})
        wait_for(lambda: '10.0.0.3:80' in targets_of(read(os.path.join(tmp,
                                                                       'ecs-services.json'))),
                 'the new target is written')
        wait_refreshes(2)
        assert len(server.seen) == 2, server.seen
        admin('ssm/parameters', {'Name': PROM_PARAM, 'Value': PROM_YAML_2})
        wait_for(lambda: len(server.seen) == 3, 'a changed prometheus.yaml is reloaded')
        d.stop()
        d = Daemon(sidecar_env(tmp), args, tmp=tmp)
        wait_for(d.healthy, 'cloudmap-sd restarted')
        wait_refreshes(3)
        assert len(server.seen) == 3, server.seen
        assert 'cannot ask Prometheus to reload' in ''.join(
            open(os.path.join(tmp, f), errors='replace').read()
            for f in os.listdir(tmp) if f.startswith('daemon-'))
    finally:
        server.stop()


def case_bad_frequency(tmp):
    """A bad CONFIG_RELOAD_FREQUENCY: exit 2 naming the variable."""
    d = Daemon(sidecar_env(tmp, CONFIG_RELOAD_FREQUENCY='often'), tmp=tmp)
    code = d.proc.wait(10)
    assert code == 2, code
    assert 'invalid value "often" for CONFIG_RELOAD_FREQUENCY' in d.text(), d.text()
    assert files_in(tmp) == []


CASES = [case_file_mode, case_otel_leaves_prometheus_yaml_alone, case_http_based_writes_nothing,
         case_plain_file_sd, case_warm_start, case_corrupt_file, case_reload_url,
         case_bad_frequency]


def run_case(case):
    tmp = tempfile.mkdtemp(prefix='test-dropin-')
    try:
        admin('reset', {})
        admin('calls/reset', {})
        admin('requests/clear', {})
        admin('state', STATE)
        case(tmp)
        return None
    except Exception:  # noqa: BLE001 - report any failure as TAP
        logs = ''.join(d.text()[-3000:] for d in _procs)
        return traceback.format_exc() + (f'daemon log (tail):\n{logs}' if logs else '')
    finally:
        while _procs:
            _procs.pop().stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    print(f'1..{len(CASES)}', flush=True)
    failed = 0
    for i, case in enumerate(CASES, 1):
        why = run_case(case)
        if why:
            failed += 1
            for line in why.rstrip().splitlines():
                print(f'# {line}')
        print(f"{'not ok' if why else 'ok'} {i} - {case.__name__}", flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
