#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-valgrind: cloudmap-sd under valgrind's memcheck over 200 refreshes
(suite 'valgrind').

The real daemon runs under memcheck beside the AWS fake, which speaks HTTPS
as AWS does (a throwaway CA in AWS_CA_BUNDLE) so that libcurl's and
OpenSSL's paths run too. It is driven through 200 refreshes, one after the
other: SIGHUP asks for each (every tenth comes from the refresh timer
instead), and the next starts once cloudmap_sd_refreshes_total has moved
(polled). In between, instances are registered, deregistered and change
health, and one-shot faults (errors, throttling, malformed and truncated
answers, closed and reset connections, a call that hangs past the request
timeout) make the error and retry paths run; /targets (plain, gzip,
filtered, refused), /metrics, the status page, bad requests and
unauthorised ones are asked along the way; the file_sd output is written at
each change. Then SIGTERM: the exit code must be 0, memcheck must report
"ERROR SUMMARY: 0 errors" and no definite or indirect leak. Library globals
that memcheck would report would go in test/valgrind.supp, one commented
entry each; none is needed today, so the file does not exist.

  test-valgrind.py [CLOUDMAP_SD_BINARY]    (or the variable of that name)
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

from harness import Daemon, Fake, run_cases, samples, strict_json, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPRESSIONS = os.path.join(HERE, 'valgrind.supp')
REFRESHES = 200
TIMER_EVERY = 10  # every tenth refresh comes from the timer, not SIGHUP
REFRESH_SEC = 30  # one refresh, under valgrind, retries and a hang included
START_SEC = 60  # until the daemon under valgrind answers /-/healthy
STOP_SEC = 120  # SIGTERM to exit, the leak check included
TOKEN = 'valgrind-test-token'
AUTH = {'Authorization': f'Bearer {TOKEN}'}
MEMCHECK = ['valgrind', '--tool=memcheck', '--leak-check=full',
            '--show-leak-kinds=definite,indirect,possible',
            '--errors-for-leak-kinds=definite,indirect', '--error-exitcode=99',
            '--track-origins=no', '--num-callers=30']
NAMESPACES = ['alpha', 'beta', 'gamma']
SERVICES = ['api', 'web', 'db']
# One-shot faults, one every tenth refresh in turn (count: calls affected).
FAULTS = [
    dict(operation='DiscoverInstances', kind='error', status=500, code='InternalFailure',
         count=1),
    dict(operation='ListServices', kind='error', status=400, code='ThrottlingException',
         message='Rate exceeded', count=2),
    dict(operation='ListNamespaces', kind='malformed', body='{"Namespaces": [', count=4),
    dict(operation='DiscoverInstances', kind='truncate', count=1),
    dict(operation='ListTagsForResource', kind='close', count=1),
    dict(operation='DiscoverInstancesRevision', kind='reset', count=1),
    dict(operation='DiscoverInstances', kind='error', status=503, code='ServiceUnavailable',
         match={'ServiceName': 'web'}, count=4),
    dict(operation='ListNamespaces', kind='hang', count=1),
    dict(operation='DiscoverInstances', kind='latency', delay_ms=50, count=3),
    dict(operation='*', kind='error', status=500, code='InternalFailure', count=8),
]


def note(text):
    print(f'# {text}', flush=True)


def world():
    def service(n, s):
        tags = {'METRICS_PATH': '/metrics', 'METRICS_PORT_envoy': '9901',
                'METRICS_PATH_envoy': '/stats/prometheus'}
        return {'Name': s, 'Tags': tags, 'instances': [
            {'Id': f'i-{n}-{s}-{k}', 'Attributes': {
                'AWS_INSTANCE_IPV4': f'10.{NAMESPACES.index(n)}.{SERVICES.index(s)}.{k}',
                'AWS_INSTANCE_PORT': '8080', 'ECS_CLUSTER_NAME': 'c'}}
            for k in range(1, 5)]}
    return {'namespaces': [{'Name': n, 'Type': 'HTTP', 'services': [service(n, s)
                                                                    for s in SERVICES]}
                           for n in NAMESPACES]}


def memcheck_argv(log):
    argv = MEMCHECK + [f'--log-file={log}']
    if os.path.exists(SUPPRESSIONS):
        argv.append(f'--suppressions={SUPPRESSIONS}')
    return argv + ['--']


class Driver:
    """Drives the daemon under memcheck: refreshes, changes, requests."""

    def __init__(self, fake, daemon):
        self.fake, self.d = fake, daemon
        self.added = []  # (namespace, service, instance id) registered so far
        self.statuses = {}  # path: {status: count}

    def get(self, path, headers=AUTH, want=None):
        status, hdrs, body = self.d.get(path, headers=headers, timeout=30)
        self.statuses.setdefault(path.split('?')[0], {}).setdefault(status, 0)
        self.statuses[path.split('?')[0]][status] += 1
        if want is not None:
            assert status in want, f'GET {path}: {status}, want {want}: {body[:200]!r}'
        return status, hdrs, body

    def refreshes(self):
        """Refreshes so far, of every kind and result."""
        status, _, body = self.get('/metrics', want=(200,))
        return sum(v for k, v in samples(body.decode()).items()
                   if k.startswith('cloudmap_sd_refreshes_total{'))

    def refresh(self, i):
        """One more refresh: asked for with SIGHUP, or by the timer."""
        before = self.refreshes()
        if i % TIMER_EVERY != TIMER_EVERY - 1:
            self.d.send(signal.SIGHUP)
        wait_for(lambda: self.refreshes() > before, REFRESH_SEC, f'refresh {i + 1} is counted')

    def change(self, i):
        """Changes the world a little before refresh i."""
        n, s = NAMESPACES[i % 3], SERVICES[(i // 3) % 3]
        if i % 3 == 0:
            iid = f'i-new-{i}'
            self.fake.admin('instances/register', {
                'NamespaceName': n, 'ServiceName': s, 'InstanceId': iid,
                'Attributes': {'AWS_INSTANCE_IPV4': f'10.9.{i // 256}.{i % 256}'}})
            self.added.append((n, s, iid))
        elif i % 3 == 1 and self.added:
            n, s, iid = self.added.pop(0)
            self.fake.admin('instances/deregister',
                            {'NamespaceName': n, 'ServiceName': s, 'InstanceId': iid})
        else:
            self.fake.admin('instances/health', {
                'NamespaceName': n, 'ServiceName': s, 'InstanceId': f'i-{n}-{s}-1',
                'HealthStatus': 'UNHEALTHY' if i % 2 else 'HEALTHY'})
        if i % 10 == 5:
            self.fake.fault(**FAULTS[(i // 10) % len(FAULTS)])

    def ask(self, i):
        """Some requests between refreshes, a different mix each time."""
        mix = i % 5
        if mix == 0:
            self.get('/targets', want=(200,))
            self.get('/targets', headers=dict(AUTH, **{'Accept-Encoding': 'gzip'}),
                     want=(200,))
        elif mix == 1:
            self.get('/targets?namespace=alpha&service=web', want=(200,))
            self.get('/prometheus-targets?shard=1&shards=3', want=(200,))
        elif mix == 2:
            self.get('/', want=(200,))
            self.get('/api/v1/status', want=(200,))
        elif mix == 3:
            self.get('/targets?color=blue', want=(400,))
            self.get('/targets', headers={}, want=(401,))
            self.get('/no/such/path', want=(404,))
        else:
            self.get('/targets', headers=dict(AUTH, **{
                'X-Prometheus-Refresh-Interval-Seconds': str(1 + i % 60)}), want=(200,))
            self.get('/-/ready', want=(200,))


def memcheck_report(log):
    """(error summary line, {leak kind: bytes}, heap summary lines)."""
    with open(log) as f:
        text = f.read()
    errors = re.findall(r'ERROR SUMMARY: .*', text)
    leaks = {kind: int(n.replace(',', '')) for kind, n in
             re.findall(r'(definitely lost|indirectly lost|possibly lost|still reachable): '
                        r'([\d,]+) bytes', text)}
    heap = re.findall(r'total heap usage: .*', text)
    return (errors[-1] if errors else ''), leaks, heap, text


def case_memcheck_over_200_refreshes(fake):
    assert shutil.which('valgrind'), 'valgrind not found (Debian package valgrind)'
    tmp = tempfile.mkdtemp(prefix='valgrind-test-')
    try:
        run_memcheck(fake, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_memcheck(fake, tmp):
    log = os.path.join(tmp, 'memcheck.log')
    token = os.path.join(tmp, 'token')
    with open(token, 'w') as f:
        f.write(TOKEN + '\n')
    fake.load(world())
    fake.admin('pages', {'operation': 'ListServices', 'page_size': 2})
    started = time.monotonic()
    d = Daemon(fake, '--refresh.interval=1s', '--refresh.full-interval=5s',
               '--aws.request-timeout=2s', f'--web.auth-token-file={token}',
               f'--file-sd.path={os.path.join(tmp, "targets.json")}',
               env={'AWS_CA_BUNDLE': fake.ca_bundle}, wrapper=memcheck_argv(log),
               start_sec=START_SEC)
    drive = Driver(fake, d)
    for i in range(REFRESHES):
        drive.change(i)
        drive.refresh(i)
        drive.ask(i)
    fake.clear_faults()
    drive.refresh(REFRESHES)
    status, _, body = drive.get('/targets', want=(200,))
    groups = len(strict_json(body))
    took = time.monotonic() - started
    m = {k: v for k, v in samples(drive.get('/metrics')[2].decode()).items()
         if k.startswith('cloudmap_sd_refreshes_total{')}
    rc, stop_sec = d.stop(timeout=STOP_SEC)
    errors, leaks, heap, text = memcheck_report(log)
    note(f'{REFRESHES + 1} refreshes under memcheck in {took:.0f} s, {groups} target groups '
         f'at the end; stopped in {stop_sec:.1f} s, exit code {rc}')
    note('refreshes: ' + ', '.join(f'{k[len("cloudmap_sd_refreshes_total"):]} {v:g}'
                                   for k, v in sorted(m.items())))
    note('requests: ' + ', '.join(f'{p} {s}' for p, s in sorted(drive.statuses.items())))
    note(f'memcheck: {errors}; {"; ".join(heap)}; leaks {leaks or "none"}')
    failed = [k for k in m if 'result="success"' not in k and m[k] > 0]
    assert failed, 'no refresh failed or was partial: the faults did not bite'
    assert rc == 0, f'exit code {rc} under memcheck (99: memcheck found errors):\n' + \
        text[-6000:]
    assert errors.startswith('ERROR SUMMARY: 0 errors'), f'{errors}:\n{text[-6000:]}'
    lost = {k: v for k, v in leaks.items() if k in ('definitely lost', 'indirectly lost') and v}
    assert not lost, f'leaks {lost}:\n{text[-6000:]}'


def main():
    fake = Fake(tls_names='IP:127.0.0.1,DNS:localhost')
    try:
        return run_cases([case_memcheck_over_200_refreshes], fake)
    finally:
        fake.stop()


if __name__ == '__main__':
    sys.exit(main())
