#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-soak: cloudmap-sd for a few minutes under churning AWS faults and
continuous load (suite 'soak').

The AWS fake holds two namespaces of two services each; every service has
three instances that stay registered throughout and up to four that come
and go. For SOAK_SEC seconds (default 180) three threads run beside the
real cloudmap-sd (refresh interval 1 s, full refresh every 3 s):

  - instance churn: every ~0.7 s an instance is registered or deregistered
    in a random service; every state of every service is recorded with the
    time it held (the truth);
  - fault churn: cycles of a fault phase (one or two random faults: error,
    throttling, malformed, truncate, close, reset, drip, hang, latency, on
    a random operation or on all, sometimes for one service only or for a
    few calls only) of up to 5 s, then at least 3 s without faults: never
    an outage near --refresh.max-staleness (60 s);
  - load: four clients asking GET /targets over keep-alive connections,
    75 times a second each (300 a second in all).

Checked, each a TAP line:
  - every answer after the first success is 200, and no request fails;
  - no target is lost: in every answer, every service is present and its
    targets are exactly one of that service's truths of the last
    WINDOW_SEC seconds (a service whose refresh failed keeps its last good
    state, so a fresh answer may mix services of different moments, but a
    service is never a set that did not exist, nor misses an instance that
    was registered throughout);
  - once the faults stop, the targets are the final truth;
  - memory is bounded: resident memory (VmRSS) at the end is within 10% of
    its value after the warm-up (WARMUP_SEC). Not asserted under a
    sanitizer, whose quarantine keeps freed memory on purpose.
The figures (requests, answers, refreshes by result, faults injected, RSS)
are printed as TAP comments for docs/RELIABILITY.md. SOAK_SEED replays a
run; SOAK_SEC shortens it for debugging.

  test-soak.py [CLOUDMAP_SD_BINARY]    (or the variable of that name)
"""

import collections
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

from harness import (Daemon, Fake, TargetsLoad, rss_kb, run_cases, strict_json,  # noqa: E402
                     wait_for)

SOAK_SEC = float(os.environ.get('SOAK_SEC', '180'))
WARMUP_SEC = min(30.0, SOAK_SEC / 4)
SEED = int(os.environ.get('SOAK_SEED', str(int(time.time()))))
FLAGS = ('--refresh.interval=1s', '--refresh.full-interval=3s', '--refresh.max-staleness=60s',
         '--aws.request-timeout=2s')
CLIENTS, RATE = 4, 75  # 300 requests a second in all
MEMORY_GROWTH = 0.10
# How old the state a service is served with may be: a fault phase (5 s),
# the retries of the refresh under way when it ends (three 2 s attempts
# and up to 3 s of back-off), the next refresh, slack.
WINDOW_SEC = 15.0
CHURN_SEC = 0.7
FAULT_PHASE_SEC = (1.0, 5.0)
QUIET_PHASE_SEC = (3.0, 5.0)
SETTLE_SEC = 20.0
STABLE, MAX_CHURNED = 3, 4
SERVICES = [('alpha', 'api'), ('alpha', 'web'), ('beta', 'db'), ('beta', 'queue')]
FAULTS = {
    'throttling': {'kind': 'error', 'status': 400, 'code': 'ThrottlingException',
                   'message': 'Rate exceeded'},
    '503': {'kind': 'error', 'status': 503, 'code': 'ServiceUnavailable'},
    '500': {'kind': 'error', 'status': 500, 'code': 'InternalFailure'},
    'malformed': {'kind': 'malformed'},
    'truncate': {'kind': 'truncate'},
    'close': {'kind': 'close'},
    'reset': {'kind': 'reset'},
    'drip': {'kind': 'drip', 'delay_ms': 5},
    'hang': {'kind': 'hang'},
    'latency': {'kind': 'latency', 'delay_ms': 300},
}
OPERATIONS = ['*', 'ListNamespaces', 'ListServices', 'ListTagsForResource',
              'DiscoverInstances', 'DiscoverInstancesRevision']
PER_SERVICE = ('DiscoverInstances', 'DiscoverInstancesRevision')  # inputs name the service

results = {}


def address(n, service_index):
    return f'10.{service_index}.{n // 250}.{n % 250 + 1}'


def initial_state():
    namespaces = collections.OrderedDict()
    for i, (ns, name) in enumerate(SERVICES):
        instances = [{'Id': f'{name}-{n}', 'Attributes': {'AWS_INSTANCE_IPV4': address(n, i)}}
                     for n in range(1, STABLE + 1)]
        namespaces.setdefault(ns, []).append(
            {'Name': name, 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': instances})
    return {'namespaces': [{'Name': ns, 'Type': 'HTTP', 'services': svcs}
                           for ns, svcs in namespaces.items()]}


class Truth:
    """Each service's states over time: [(from, until, frozenset of
    addresses)], monotonic seconds; until is None for the current one.
    A state counts from before the change was asked until after the next
    change was answered: the fake applies it somewhere in between."""

    def __init__(self):
        self.lock = threading.Lock()
        self.states = {}
        for i, key in enumerate(SERVICES):
            current = frozenset(f'{address(n, i)}:80' for n in range(1, STABLE + 1))
            self.states[key] = [(0.0, None, current)]
        self.changes = 0

    def current(self, key):
        with self.lock:
            return self.states[key][-1][2]

    def change(self, key, new, asked, answered):
        with self.lock:
            since, _, old = self.states[key][-1]
            self.states[key][-1] = (since, answered, old)
            self.states[key].append((asked, None, frozenset(new)))
            self.changes += 1

    def lag(self, key, served, sent, received):
        """How old the state served was when asked for (0: current), or
        None when the service never had it within WINDOW_SEC."""
        best = None
        with self.lock:
            states = list(self.states[key])
        for since, until, value in states:
            if value != served or since > received:
                continue
            if until is not None and until < sent - WINDOW_SEC:
                continue
            age = 0.0 if until is None or until >= sent else sent - until
            best = age if best is None else min(best, age)
        return best


def churn_instances(fake, truth, rng, stop):
    """Registers or deregisters an instance every CHURN_SEC."""
    churned = {key: [] for key in SERVICES}  # instance numbers, per service
    serial = STABLE
    while not stop.wait(CHURN_SEC):  # pacing, not synchronisation
        i = rng.randrange(len(SERVICES))
        key = SERVICES[i]
        ns, name = key
        current = truth.current(key)
        asked = time.monotonic()
        if churned[key] and (len(churned[key]) >= MAX_CHURNED or rng.random() < 0.4):
            n = churned[key].pop(rng.randrange(len(churned[key])))
            fake.admin('instances/deregister', {'NamespaceName': ns, 'ServiceName': name,
                                                'InstanceId': f'{name}-{n}'})
            new = current - {f'{address(n, i)}:80'}
        else:
            serial += 1
            n = serial
            churned[key].append(n)
            fake.admin('instances/register', {
                'NamespaceName': ns, 'ServiceName': name, 'InstanceId': f'{name}-{n}',
                'Attributes': {'AWS_INSTANCE_IPV4': address(n, i)}})
            new = current | {f'{address(n, i)}:80'}
        truth.change(key, new, asked, time.monotonic())


def random_fault(rng):
    kind = rng.choice(sorted(FAULTS))
    spec = dict(FAULTS[kind], operation=rng.choice(OPERATIONS))
    if spec['operation'] in PER_SERVICE and rng.random() < 0.4:
        spec['match'] = {'ServiceName': rng.choice(SERVICES)[1]}
    if rng.random() < 0.4:
        spec['count'] = rng.randint(1, 6)
    return kind, spec


def churn_faults(fake, rng, stop, injected):
    """Fault phases of up to 5 s, each followed by a quiet phase."""
    while not stop.is_set():
        for _ in range(rng.randint(1, 2)):
            kind, spec = random_fault(rng)
            fake.fault(**spec)
            injected[kind] += 1
        stop.wait(rng.uniform(*FAULT_PHASE_SEC))  # pacing
        fake.clear_faults()
        stop.wait(rng.uniform(*QUIET_PHASE_SEC))  # pacing


def by_service(body):
    """{(namespace, service): frozenset of addresses} of a /targets answer."""
    out = collections.defaultdict(set)
    for group in strict_json(body):
        labels = group['labels']
        key = (labels['__meta_cloudmap_namespace_name'], labels['__meta_cloudmap_service_name'])
        out[key].update(group['targets'])
    return {k: frozenset(v) for k, v in out.items()}


def sanitized(pid):
    with open(f'/proc/{pid}/maps') as f:
        maps = f.read()
    return any(lib in maps for lib in ('libasan', 'libtsan', 'libubsan'))


class Threads:
    """The churn threads, stopped and joined on the way out."""

    def __init__(self, *targets):
        self.stop = threading.Event()
        self.failures = []
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in targets]

    def _run(self, target):
        try:
            target(self.stop)
        except Exception as e:  # noqa: BLE001 -- reported by the case
            self.failures.append(repr(e))
            self.stop.set()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def soak(fake, d, truth):
    """Runs the churn and the load for SOAK_SEC; returns what was seen."""
    rng = random.Random(SEED)
    injected = collections.Counter()
    load = TargetsLoad(d.port, clients=CLIENTS, rate=RATE).start()
    start = time.monotonic()
    with Threads(lambda stop: churn_instances(fake, truth, random.Random(rng.random()), stop),
                 lambda stop: churn_faults(fake, random.Random(rng.random()), stop,
                                           injected)) as threads:
        wait_for(lambda: threads.failures or time.monotonic() - start >= WARMUP_SEC,
                 WARMUP_SEC + 5, 'the warm-up passes')
        rss_warm = rss_kb(d.proc.pid)
        rss_peak = rss_warm
        while not threads.failures and time.monotonic() - start < SOAK_SEC:
            threads.stop.wait(1.0)  # sampling the memory once a second
            rss_peak = max(rss_peak, rss_kb(d.proc.pid))
    fake.clear_faults()
    assert not threads.failures, f'a churn thread failed: {threads.failures}'
    answers = load.stop()
    return {'answers': answers, 'errors': load.errors, 'connects': load.connects,
            'injected': injected, 'rss_warm': rss_warm, 'rss_end': rss_kb(d.proc.pid),
            'rss_peak': rss_peak, 'took': time.monotonic() - start}


def check_targets(answers, truth):
    """(lost: [(when, service, served)], the largest lag seen)."""
    parsed, lost, worst = {}, [], 0.0
    for sent, received, status, body in answers:
        if status != 200:
            continue
        if body not in parsed:
            parsed[body] = by_service(body)
        served = parsed[body]
        for key in SERVICES:
            lag = truth.lag(key, served.get(key, frozenset()), sent, received)
            if lag is None:
                lost.append((round(sent, 2), key, sorted(served.get(key, ()))))
            else:
                worst = max(worst, lag)
    return lost, worst


def final_truth(truth):
    return {key: truth.current(key) for key in SERVICES}


def report(r, m):
    answers = r['answers']
    statuses = collections.Counter(a[2] for a in answers)
    latencies = sorted(a[1] - a[0] for a in answers)
    refreshes = {k.split('{', 1)[1].rstrip('}'): int(v) for k, v in m.items()
                 if k.startswith('cloudmap_sd_refreshes_total{')}
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0
    print(f'# seed {SEED}, {r["took"]:.0f} s, {CLIENTS} clients on keep-alive connections')
    print(f'# /targets requests {len(answers) + len(r["errors"])}, answers {len(answers)} '
          f'({len(answers) / r["took"]:.0f}/s), by status {dict(statuses)}, '
          f'failed requests {len(r["errors"])}, connections opened {r["connects"]}')
    print(f'# /targets latency p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms')
    print(f'# refreshes {refreshes}')
    print(f'# faults injected {sum(r["injected"].values())}: {dict(sorted(r["injected"].items()))}')
    print(f'# instance changes {r["changes"]}, served state at most {r["lag"]:.1f} s old '
          f'(window {WINDOW_SEC:.0f} s)')
    print(f'# VmRSS after {WARMUP_SEC:.0f} s warm-up {r["rss_warm"]} KiB, at the end '
          f'{r["rss_end"]} KiB ({(r["rss_end"] / r["rss_warm"] - 1) * 100:+.1f}%), '
          f'peak {r["rss_peak"]} KiB')


# ---- the cases: one soak, then what it showed ----

def case_soak_under_churning_faults_and_load(fake):
    fake.load(initial_state())
    truth = Truth()
    d = Daemon(fake, *FLAGS)
    d.wait_targets(timeout=20)
    r = soak(fake, d, truth)
    r['changes'] = truth.changes
    r['lost'], r['lag'] = check_targets(r['answers'], truth)
    want = final_truth(truth)
    wait_for(lambda: by_service(d.get('/targets')[2]) == want, SETTLE_SEC,
             'the final truth is served once the faults stop')
    r['sanitized'] = sanitized(d.proc.pid)
    m = d.metrics()
    report(r, m)
    results.update(r)
    rejected = fake.rejections()
    assert rejected == [], f'the fake rejected requests AWS would refuse: {rejected[:3]}'


def case_every_answer_200_after_the_first_success(fake):
    assert results, 'the soak did not run'
    bad = [(round(a[0], 2), a[2]) for a in results['answers'] if a[2] != 200]
    assert not results['errors'], f'{len(results["errors"])} requests failed: ' \
        f'{results["errors"][:3]}'
    assert not bad, f'{len(bad)} answers not 200: {bad[:5]}'
    assert results['connects'] == CLIENTS, \
        f'{results["connects"] - CLIENTS} keep-alive connections were dropped'


def case_no_target_lost(fake):
    assert results, 'the soak did not run'
    lost = results['lost']
    assert not lost, f'{len(lost)} service states served that did not exist within ' \
        f'{WINDOW_SEC} s: {lost[:5]}'


def case_memory_bounded(fake):
    assert results, 'the soak did not run'
    warm, end = results['rss_warm'], results['rss_end']
    if results['sanitized']:
        print('# skipped: a sanitizer keeps freed memory in quarantine')
        return
    assert end <= warm * (1 + MEMORY_GROWTH), \
        f'VmRSS grew from {warm} KiB to {end} KiB (more than {MEMORY_GROWTH:.0%})'


CASES = [
    case_soak_under_churning_faults_and_load,
    case_every_answer_200_after_the_first_success,
    case_no_target_lost,
    case_memory_bounded,
]


def main():
    fake = Fake()
    try:
        return run_cases(CASES, fake)
    finally:
        fake.stop()


if __name__ == '__main__':
    sys.exit(main())
