#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-faults: cloudmap-sd under AWS faults (suite 'integration').

One case per fault the AWS fake can inject (test/fake/README.md): bursts of
throttling and of 5xx answers, malformed JSON, truncated bodies, connection
resets, answers that drip in slowly, calls that hang past every timeout,
credentials that expire mid-run or lapse early, the credentials endpoint
down (with the cached credentials still valid, and after they expired), and
the SSM parameter naming the namespaces missing or empty. Each case runs the
real cloudmap-sd (refresh interval 1 s) against the fake and checks what an
operator relies on:

  - /targets: a client asks it 50 times a second throughout the case; every
    answer is 200 (or, in the one case about staleness, 503 once the last
    good targets are older than --refresh.max-staleness) and its targets
    are the last good ones or the new truth, in that order: never fewer,
    never back;
  - the metrics that should move do, by the exact amounts the fault implies
    (cloudmap_sd_aws_requests_total{outcome}, cloudmap_sd_aws_retries_total,
    cloudmap_sd_aws_throttles_total, cloudmap_sd_refreshes_total{result},
    cloudmap_sd_last_refresh_errors);
  - the log says what happened once per refresh: one "refresh failed" or
    "refresh kept ..." line per failed or partial refresh, naming what
    failed, one "refresh done" per good one, and nothing else (no line per
    call, target or retry);
  - discovery recovers by itself when the fault ends: the new truth (an
    instance or service registered during the fault) is served.

Every case ends with "the fake rejected no request" unless the case expects
and clears the rejections (credentials that lapse early). Waits poll with
deadlines; nothing sleeps to synchronise. Prints TAP.

  test-faults.py [CLOUDMAP_SD_BINARY]    (or the variable of that name)
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

from harness import (Daemon, Fake, TargetsLoad, connections, run_cases,  # noqa: E402
                     strict_json, wait_for)

# Light refreshes only, after the first (full) one: one call a refresh
# (DiscoverInstancesRevision of the one service), so the counts are exact.
LIGHT = ('--refresh.interval=1s', '--refresh.full-interval=1h', '--refresh.max-staleness=5m')
# Full refreshes (every refresh after a failed full one is full again).
FULL = ('--refresh.interval=1s', '--refresh.full-interval=1s', '--refresh.max-staleness=5m')
INTERVAL_SEC = 1.1  # the refresh interval, +10% jitter
# A refresh whose calls fail: three attempts, full-jitter back-off of up to
# 1 s and 2 s between them.
RETRIES_SEC = 3.5
SETTLE_SEC = 2 * (INTERVAL_SEC + RETRIES_SEC)
QUIET_SEC = 0.1  # a moment without a refresh (a healthy one takes milliseconds)
WATCH_RATE = 50  # /targets asked this often a second during a case
SLOW_ANSWER_SEC = 1.0  # /targets never takes longer, whatever AWS does
ECS_PATH = '/v2/credentials/fake'
PARAM = '/cloudmap-sd/namespaces'
SD = 'servicediscovery'

STARTUP_LINES = ('using AWS', 'listening', 'cloudmap-sd started')
DONE_LINE = 'refresh done'
FAILED_LINES = ('refresh failed, serving the last good targets',
                'refresh kept the last good state of what failed')
LOGFMT_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


# ---- the Cloud Map state ----

def inst(instance_id, ipv4):
    return {'Id': instance_id, 'Attributes': {'AWS_INSTANCE_IPV4': ipv4}}


def svc(name, instances):
    return {'Name': name, 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': instances}


def one_service():
    """prod/web with i-1: the state most cases start from."""
    return {'namespaces': [{'Name': 'prod', 'Type': 'HTTP',
                            'services': [svc('web', [inst('i-1', '10.0.0.1')])]}]}


def register(fake, namespace, service, instance_id, ipv4):
    fake.admin('instances/register', {
        'NamespaceName': namespace, 'ServiceName': service, 'InstanceId': instance_id,
        'Attributes': {'AWS_INSTANCE_IPV4': ipv4}})


def addresses(targets):
    return sorted(a for group in targets for a in group['targets'])


T0 = ['10.0.0.1:80']
T1 = ['10.0.0.1:80', '10.0.0.2:80']


# ---- metrics ----

def requests_key(operation, outcome, service=SD):
    return (f'cloudmap_sd_aws_requests_total{{service="{service}",'
            f'operation="{operation}",outcome="{outcome}"}}')


def retries_key(operation, service=SD):
    return f'cloudmap_sd_aws_retries_total{{service="{service}",operation="{operation}"}}'


def throttles_key(operation, service=SD):
    return f'cloudmap_sd_aws_throttles_total{{service="{service}",operation="{operation}"}}'


def refreshes(m, result, kinds=('full', 'light')):
    return sum(m.get(f'cloudmap_sd_refreshes_total{{kind="{k}",result="{result}"}}', 0)
               for k in kinds)


def all_refreshes(m):
    return sum(refreshes(m, r) for r in ('success', 'partial', 'failure'))


def outcomes(m, outcome):
    """Calls with this outcome, summed over every operation."""
    tail = f',outcome="{outcome}"}}'
    return sum(v for k, v in m.items()
               if k.startswith('cloudmap_sd_aws_requests_total{') and k.endswith(tail))


def family_sum(m, family):
    return sum(v for k, v in m.items() if k.startswith(family + '{'))


# ---- the log ----

def log_fields(line):
    """The logfmt fields of a line, values unquoted."""
    return {k: (json.loads(v) if v.startswith('"') else v) for k, v in LOGFMT_RE.findall(line)}


def check_log(d, says, also=()):
    """The log says what happened once per refresh: exactly as many refresh
    lines as refreshes and as many failure lines as failed and partial
    refreshes; every line is a start-up line, a refresh line (or one of
    also); each failure line names what failed (every string in says) and
    where (not an empty name). Returns the failure lines."""
    last = {}

    def consistent():
        m1 = d.metrics()
        msgs = [log_fields(x).get('msg') for x in d.text().splitlines()]
        m2 = d.metrics()
        failed = lambda m: refreshes(m, 'failure') + refreshes(m, 'partial')  # noqa: E731
        counts = (all_refreshes(m1), failed(m1))
        bad = sum(1 for x in msgs if x in FAILED_LINES)
        lines = (bad + sum(1 for x in msgs if x == DONE_LINE), bad)
        last['seen'] = (counts, lines)
        return counts == (all_refreshes(m2), failed(m2)) and counts == lines
    try:
        wait_for(consistent, 5, 'as many refresh lines as refreshes')
    except AssertionError:
        (total, failed), (lines, bad) = last['seen']
        raise AssertionError(f'{total} refreshes ({failed} failed or partial) but {lines} '
                             f'refresh lines ({bad} failure lines)') from None
    failures = []
    for line in d.text().splitlines():
        f = log_fields(line)
        msg = f.get('msg', '')
        assert msg in STARTUP_LINES + (DONE_LINE,) + FAILED_LINES + tuple(also), \
            f'an unexpected log line: {line}'
        if msg in FAILED_LINES:
            failures.append(line)
            what = f.get('err', f.get('failed', ''))
            assert all(s in what for s in says), f'the line does not say {says}: {line}'
            assert not what.startswith(':'), f'the line names no namespace or call: {line}'
    return failures


# ---- one daemon under one fault ----

class Run:
    """cloudmap-sd on the fake's state, its first targets, a client asking
    /targets throughout, and the metrics before the fault."""

    def __init__(self, fake, *flags, env=None, state=None):
        self.fake = fake
        fake.load(state or one_service())
        self.d = Daemon(fake, *flags, env=env)
        self.before = self.d.wait_targets()
        self.watch = TargetsLoad(self.d.port, rate=WATCH_RATE).start()
        self.m0 = self.d.metrics()

    def rebase(self):
        """Takes the metrics again, between two refreshes (no count moves
        over a window much longer than a healthy refresh)."""
        def quiet():
            m1 = self.d.metrics()
            until = time.monotonic() + QUIET_SEC
            wait_for(lambda: time.monotonic() >= until, QUIET_SEC + 1, 'the window passes')
            m2 = self.d.metrics()
            keys = [k for k in m1 if 'aws_' in k or 'refreshes_total' in k]
            return m2 if all(m1[k] == m2.get(k) for k in keys) else None
        self.m0 = wait_for(quiet, 10, 'a moment between two refreshes')

    def delta(self, key, m=None):
        return (m or self.d.metrics()).get(key, 0) - self.m0.get(key, 0)

    def delta_of(self, fn, m=None):
        return fn(m or self.d.metrics()) - fn(self.m0)

    def wait_refreshes(self, n, result='failure', kinds=('full', 'light'), per=None):
        """Waits for n more refreshes with result (since the fault began)."""
        per = per or INTERVAL_SEC + RETRIES_SEC
        wait_for(lambda: self.delta_of(lambda m: refreshes(m, result, kinds)) >= n,
                 (n + 1) * per, f'{n} refreshes with result {result}')

    def wait_relation(self, what, predicate, timeout=10):
        """Waits until predicate(metrics) holds: the moment between two
        refreshes, when every call of the last one has been counted. A
        relation that never holds fails with the last metrics seen."""
        last = {}

        def holds():
            m = self.d.metrics()
            last['m'] = m
            return predicate(m)
        try:
            wait_for(holds, timeout, what)
        except AssertionError:
            moved = {k: v - self.m0.get(k, 0) for k, v in last['m'].items()
                     if 'aws_' in k or 'refreshes_total' in k or 'last_refresh' in k}
            raise AssertionError(f'{what}: never held; moved since the fault: '
                                 f'{ {k: v for k, v in moved.items() if v} }') from None

    def assert_kept(self):
        status, body = self.d.targets()
        assert status == 200, f'/targets answered {status} during the fault'
        assert body == self.before, \
            f'/targets changed during the fault: {addresses(body)}, want {addresses(self.before)}'

    def wait_serving(self, want, timeout=SETTLE_SEC, what='recovery'):
        def serving():
            status, body = self.d.targets()
            return status == 200 and addresses(body) == want
        wait_for(serving, timeout, f'{what}: {want} served')

    def finish(self, phases, says, also=()):
        """Stops the client and checks its answers went through phases (a
        list of (status, addresses), addresses None for an error answer) in
        order, then checks the log (see check_log)."""
        answers = self.watch.stop()
        check_answers(answers, self.watch.errors, phases)
        return check_log(self.d, says, also)


def check_answers(answers, errors, phases):
    assert not errors, f'{len(errors)} /targets requests failed: {errors[:3]}'
    assert answers, 'no /targets answer during the case'
    parsed, at, slowest = {}, 0, 0.0
    for sent, received, status, body in answers:
        slowest = max(slowest, received - sent)
        if body not in parsed:
            value = strict_json(body)
            parsed[body] = addresses(value) if status == 200 else None
        seen = (status, parsed[body])
        while at < len(phases) and phases[at] != seen:
            at += 1
        assert at < len(phases), f'/targets answered {seen}, want one of ' \
            f'{phases} in that order (after {phases[:at]})'
    assert slowest < SLOW_ANSWER_SEC, f'a /targets answer took {slowest:.2f} s'


def assert_retried(r, op, kinds=('full', 'light')):
    """After a fault that failed every attempt of op until it was cleared:
    each failed refresh made three attempts (two retries), and the call
    under way when the fault ended made one or two more before it
    succeeded (as many retries)."""
    m = r.d.metrics()
    failed = r.delta_of(lambda x: refreshes(x, 'failure', kinds), m)
    errors = r.delta(requests_key(op, 'network_error'), m)
    retries = r.delta(retries_key(op), m)
    extra = errors - 3 * failed
    assert failed >= 1 and extra == retries - 2 * failed and 0 <= extra <= 2, \
        f'{failed} failed refreshes, {errors} failed {op} attempts, {retries} retries: ' \
        'want three attempts (two retries) per failed refresh'


def check_no_rejections(fake):
    rejected = fake.rejections()
    assert rejected == [], f'the fake rejected requests AWS would refuse: {rejected[:3]}'


# ---- the cases: errors ----

def case_throttling_burst(fake):
    r = Run(fake, *LIGHT)
    op = 'DiscoverInstancesRevision'
    # Five throttled attempts: the first call fails all three, the next
    # succeeds at its third.
    fake.fault(operation=op, kind='error', status=400, code='ThrottlingException',
               message='Rate exceeded', count=5)
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_serving(T1, timeout=4 * SETTLE_SEC, what='recovery after the burst')
    m = r.d.metrics()
    want = {throttles_key(op): 5, requests_key(op, 'throttled'): 5, retries_key(op): 4}
    got = {k: r.delta(k, m) for k in want}
    assert got == want, f'throttling metrics moved {got}, want {want}'
    assert r.delta_of(lambda x: refreshes(x, 'failure'), m) == 1, 'one refresh failed'
    assert r.delta_of(lambda x: refreshes(x, 'partial'), m) == 0
    assert m['cloudmap_sd_last_refresh_errors'] == 0, 'errors left after the recovery'
    lines = r.finish([(200, T0), (200, T1)], says=('prod/web', op, 'ThrottlingException'))
    assert len(lines) == 1, lines


def case_5xx_burst(fake):
    r = Run(fake, *FULL)
    op = 'ListNamespaces'
    # Two 500s then three 503s: the first full refresh's ListNamespaces
    # fails all three attempts, the next one's succeeds at its third.
    fake.fault(operation=op, kind='error', status=500, code='InternalFailure', count=2)
    fake.fault(operation=op, kind='error', status=503, code='ServiceUnavailable', count=3)
    # A new service: only a full refresh, which lists the services, sees it.
    fake.admin('services', {'NamespaceName': 'prod', 'Name': 'api',
                            'Tags': {'METRICS_PATH': '/metrics'}})
    register(fake, 'prod', 'api', 'i-2', '10.0.0.2')
    r.wait_serving(T1, timeout=4 * SETTLE_SEC, what='recovery after the burst')
    m = r.d.metrics()
    got = (r.delta(requests_key(op, 'server_error'), m), r.delta(retries_key(op), m),
           r.delta_of(lambda x: family_sum(x, 'cloudmap_sd_aws_throttles_total'), m),
           r.delta_of(lambda x: refreshes(x, 'failure', ('full',)), m))
    assert got == (5, 4, 0, 1), \
        f'(5xx answers, retries, throttles, failed refreshes) moved {got}, want (5, 4, 0, 1)'
    lines = r.finish([(200, T0), (200, T1)], says=(op, 'ServiceUnavailable'))
    assert len(lines) == 1, lines


def case_malformed_json(fake):
    r = Run(fake, *LIGHT)
    op = 'DiscoverInstances'
    fake.fault(operation=op, kind='malformed')
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')  # the revision moves: op is called
    r.wait_refreshes(2)
    r.assert_kept()
    # Not retried: one malformed answer per failed refresh.
    r.wait_relation('one malformed answer per failed refresh, no retry', lambda m: (
        r.delta(requests_key(op, 'malformed'), m) == r.delta_of(
            lambda x: refreshes(x, 'failure'), m) >= 2
        and r.delta(retries_key(op), m) == 0
        and m['cloudmap_sd_last_refresh_errors'] == 1))
    fake.clear_faults()
    r.wait_serving(T1)
    r.finish([(200, T0), (200, T1)], says=('prod/web', op, 'Bad message'))


def case_truncated_bodies(fake):
    r = Run(fake, *FULL)
    op = 'ListServices'
    fake.fault(operation=op, kind='truncate')
    # A new service: only a full refresh, which lists the services, sees it.
    fake.admin('services', {'NamespaceName': 'prod', 'Name': 'api',
                            'Tags': {'METRICS_PATH': '/metrics'}})
    register(fake, 'prod', 'api', 'i-2', '10.0.0.2')
    r.wait_refreshes(2, kinds=('full',))
    r.assert_kept()
    assert r.d.metric('cloudmap_sd_last_refresh_errors') == 1, 'the failure is not in the metrics'
    fake.clear_faults()
    r.wait_serving(T1)
    assert_retried(r, op, kinds=('full',))
    r.finish([(200, T0), (200, T1)], says=('prod', op, 'Connection reset by peer'))


def case_connection_resets(fake):
    r = Run(fake, *LIGHT)
    op = 'DiscoverInstancesRevision'
    fake.fault(operation=op, kind='reset')
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_refreshes(2)
    r.assert_kept()
    assert r.d.metric('cloudmap_sd_last_refresh_errors') == 1, 'the failure is not in the metrics'
    fake.clear_faults()
    r.wait_serving(T1)
    assert_retried(r, op)
    r.finish([(200, T0), (200, T1)], says=('prod/web', op, 'Connection reset by peer'))


def case_slow_drip(fake):
    # An answer dripping in over about a second, within the 3 s request
    # timeout, is waited for; /targets is served meanwhile.
    r = Run(fake, *LIGHT, '--aws.request-timeout=3s')
    op = 'DiscoverInstances'
    duration = 'cloudmap_sd_refresh_duration_seconds_sum{kind="light"}'
    fake.fault(operation=op, kind='drip', delay_ms=2)
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_serving(T1, timeout=3 * SETTLE_SEC, what='the dripped answer is taken')
    m = r.d.metrics()
    assert r.delta(duration, m) >= 0.5, f'no slow refresh: {r.delta(duration, m)} s in all'
    assert r.delta(requests_key(op, 'success'), m) == 1, 'the dripped call succeeded once'
    assert r.delta_of(lambda x: refreshes(x, 'failure'), m) == 0, 'a refresh failed'
    assert r.delta(retries_key(op), m) == 0, 'the dripped call was retried'
    # Slower than the request timeout (~10 s for the answer): given up on,
    # retried, the refresh fails, the last targets stay.
    fake.clear_faults()
    fake.fault(operation=op, kind='drip', delay_ms=20)
    r.before = r.d.targets()[1]
    r.rebase()
    register(fake, 'prod', 'web', 'i-3', '10.0.0.3')
    r.wait_refreshes(1, per=3 * 3 + RETRIES_SEC + INTERVAL_SEC)
    r.assert_kept()
    fake.clear_faults()
    T2 = T1 + ['10.0.0.3:80']
    r.wait_serving(T2, timeout=3 * SETTLE_SEC)
    assert_retried(r, op)
    r.finish([(200, T0), (200, T1), (200, T2)], says=('prod/web', op, 'timed out'))


def case_hang_past_every_timeout(fake):
    r = Run(fake, *LIGHT, '--aws.request-timeout=1s')
    op = 'DiscoverInstancesRevision'
    fake.fault(operation=op, kind='hang')
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    most = [0]

    def failed_twice():
        # A timed-out attempt's connection is closed, not left to pile up.
        most[0] = max(most[0], connections(r.d.proc.pid, fake.aws_port()))
        assert most[0] <= 2, f'{most[0]} connections held to the hanging fake'
        return r.delta_of(lambda x: refreshes(x, 'failure')) >= 2
    wait_for(failed_twice, 3 * (3 * 1 + RETRIES_SEC + INTERVAL_SEC), '2 failed refreshes')
    r.assert_kept()
    assert r.d.metric('cloudmap_sd_last_refresh_errors') == 1, 'the failure is not in the metrics'
    fake.clear_faults()
    r.wait_serving(T1)
    assert_retried(r, op)
    r.finish([(200, T0), (200, T1)], says=('prod/web', op, 'timed out'))


# ---- the cases: credentials ----

def ecs_env(fake):
    """Credentials from the fake's ECS container endpoint only."""
    return {'AWS_ACCESS_KEY_ID': None, 'AWS_SECRET_ACCESS_KEY': None,
            'AWS_CONTAINER_CREDENTIALS_FULL_URI': fake.info['ecs'] + ECS_PATH}


def ecs_keys(fake):
    """The credentials the ECS fake issued: {access key id: expires_at_unix}."""
    return {c['access_key_id']: c['expires_at_unix'] for c in fake.admin('credentials')
            if c['source'] == 'ecs'}


def ecs_calls(fake):
    """Credential requests the ECS fake saw: (answered, every one)."""
    answered = fake.admin('ecs')['stats']['credential_calls']
    total = fake.admin('calls').get('EcsCredentials', {}).get('total', 0)
    return answered, total


def key_uses(fake):
    """{access key id: (first, last) fake-clock time it signed an AWS call}."""
    uses = {}
    for e in fake.admin('requests'):
        key = e.get('access_key_id')
        if e.get('listener') == 'aws' and key:
            first, _ = uses.get(key, (e['time_unix'], None))
            uses[key] = (first, e['time_unix'])
    return uses


def case_credentials_expire_mid_run_and_are_renewed(fake):
    # A credential living 312 s is renewed five minutes before it expires:
    # 12 s after it was issued (give or take the refresh interval and the
    # whole seconds of Expiration), not before.
    fake.admin('ecs', {'credentials_ttl_sec': 312, 'rotate': True})
    r = Run(fake, *LIGHT, env=ecs_env(fake))
    (_, expires), = ecs_keys(fake).items()
    # The next ones live 12 s: renewed (at most every 5 s) well before they
    # lapse, while discovery goes on past their expiry.
    fake.admin('ecs', {'credentials_ttl_sec': 12})
    wait_for(lambda: len(ecs_keys(fake)) == 2, 20, 'the credential is renewed')
    start = time.time()
    renewed_after = start - (expires - 312)
    assert 12 - 1.5 <= renewed_after <= 12 + 2 * INTERVAL_SEC, \
        f'renewed {renewed_after:.1f} s after it was issued, want 12 s (5 min before expiry)'
    short = min((k for k, e in ecs_keys(fake).items() if e < start + 20),
                key=lambda k: ecs_keys(fake)[k])
    wait_for(lambda: time.time() > ecs_keys(fake)[short] + 1, 15, 'it expires')
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_serving(T1, what='discovery after a credential expired')
    keys, uses = ecs_keys(fake), key_uses(fake)
    assert set(uses) <= set(keys), f'keys not from the ECS endpoint: {set(uses) - set(keys)}'
    late = {k: round(keys[k] - last, 1) for k, (_, last) in uses.items() if keys[k] - last < 3}
    assert not late, f'credentials used less than 3 s before they expired: {late}'
    elapsed = time.time() - start
    fetched = len(keys) - 1
    assert 3 <= fetched <= elapsed / 5 + 2, \
        f'{fetched} credentials fetched in {elapsed:.0f} s: want one every 5 s'
    m = r.d.metrics()
    assert r.delta_of(lambda x: refreshes(x, 'failure') + refreshes(x, 'partial'), m) == 0, \
        'a refresh failed while credentials were renewed'
    print(f'# renewed {renewed_after:.1f} s after issue (ttl 312 s); then {fetched} '
          f'credentials living 12 s in {elapsed:.0f} s, each last used >= '
          f'{min(keys[k] - last for k, (_, last) in uses.items()):.1f} s before expiry')
    r.finish([(200, T0), (200, T1)], says=())


def expire_now(fake, key):
    """Makes the fake treat the credential as expired from now on."""
    cred = next(c for c in fake.admin('credentials') if c['access_key_id'] == key)
    fake.admin('credentials', {'access_key_id': key,
                               'secret_access_key': cred['secret_access_key'],
                               'session_token': cred['session_token'],
                               'expires_at_unix': time.time() - 1})


def case_credentials_lapse_early_then_renewed(fake):
    # The credential in use expires early (AWS answers ExpiredTokenException)
    # while the daemon still holds it as valid: refreshes fail until the
    # cache renews it (within 5 s: it lives less than 5 minutes), then
    # discovery recovers by itself.
    fake.admin('ecs', {'credentials_ttl_sec': 60, 'rotate': True})
    r = Run(fake, *LIGHT, env=ecs_env(fake))
    calls = ecs_calls(fake)[0]
    wait_for(lambda: ecs_calls(fake)[0] > calls, 10, 'the cache renews the credential')
    issued = ecs_keys(fake)
    lapsed = max(issued, key=issued.get)  # the one just handed out
    expire_now(fake, lapsed)
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_refreshes(1)
    r.assert_kept()
    r.wait_serving(T1, timeout=5 + SETTLE_SEC, what='recovery with a renewed credential')
    m = r.d.metrics()
    op = 'DiscoverInstancesRevision'
    assert r.delta(requests_key(op, 'client_error'), m) == r.delta_of(
        lambda x: refreshes(x, 'failure'), m), 'one rejected call per failed refresh'
    rejected = fake.rejections()
    other = [x for x in rejected if x.get('error') != 'ExpiredTokenException'
             or x.get('access_key_id') != lapsed]
    assert rejected and not other, f'rejections other than the lapsed key: {other[:3]}'
    fake.admin('requests/clear', {})
    r.finish([(200, T0), (200, T1)], says=('prod/web', op, 'ExpiredTokenException'))


def case_credentials_endpoint_down_while_cached_valid(fake):
    # The cache wants to renew (the credential lives under 5 minutes) but
    # the endpoint answers 500: the still-valid credential is used.
    fake.admin('ecs', {'credentials_ttl_sec': 120})
    r = Run(fake, *LIGHT, env=ecs_env(fake))
    fake.fault(operation='EcsCredentials', kind='error', status=500, code='InternalError')
    wait_for(lambda: ecs_calls(fake)[1] > ecs_calls(fake)[0], 10,
             'the cache tries the endpoint, which is down')
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_serving(T1, what='discovery with the cached credential')
    m = r.d.metrics()
    assert r.delta_of(lambda x: refreshes(x, 'failure') + refreshes(x, 'partial'), m) == 0, \
        'a refresh failed with a valid cached credential'
    fake.clear_faults()
    r.finish([(200, T0), (200, T1)], says=())


def case_credentials_endpoint_down_after_expiry(fake):
    # The credential lives 8 s; the endpoint is down from the start: once
    # the credential lapses every refresh fails, /targets keeps the last
    # targets until they are older than --refresh.max-staleness (10 s),
    # then answers 503; when the endpoint is back, discovery recovers.
    fake.admin('ecs', {'credentials_ttl_sec': 8})
    flags = ('--refresh.interval=1s', '--refresh.full-interval=1h',
             '--refresh.max-staleness=10s')
    r = Run(fake, *flags, env=ecs_env(fake))
    fake.fault(operation='EcsCredentials', kind='error', status=500, code='InternalError')
    r.wait_refreshes(1, per=10)
    register(fake, 'prod', 'web', 'i-2', '10.0.0.2')
    r.wait_refreshes(2)
    r.assert_kept()
    # A refresh without credentials makes no AWS call at all.
    calls = family_sum(r.d.metrics(), 'cloudmap_sd_aws_requests_total')
    r.rebase()
    r.wait_refreshes(1)
    m = r.d.metrics()
    assert family_sum(m, 'cloudmap_sd_aws_requests_total') == calls, 'AWS calls unsigned'
    assert m['cloudmap_sd_last_refresh_errors'] == 1, 'the failure is not in the metrics'

    def stale_age():
        if r.d.get('/targets')[0] != 503:
            return None
        return time.time() - r.d.metric('cloudmap_sd_last_success_timestamp_seconds')
    age = wait_for(stale_age, 10 + 2 * INTERVAL_SEC, '/targets answers 503 once stale')
    # The age counts whole seconds: stale at 10 s, or up to a second before.
    assert 9 <= age <= 10 + 2 * INTERVAL_SEC, f'stale at an age of {age:.1f} s, want 10 s'
    fake.clear_faults()
    r.wait_serving(T1)
    r.finish([(200, T0), (503, None), (200, T1)],
             says=('prod/web', 'CredentialsError', 'credentials'))


# ---- the cases: the SSM parameter ----

def two_namespaces():
    return {'namespaces': [
        {'Name': 'one', 'Type': 'HTTP', 'services': [svc('web', [inst('i-1', '10.0.0.1')])]},
        {'Name': 'two', 'Type': 'HTTP', 'services': [svc('web', [inst('i-9', '10.0.9.9')])]}],
        'ssm_parameters': [{'Name': PARAM, 'Value': 'one'}]}


def parameter_case(fake, spoil, outcome, says):
    """While the parameter cannot be used, every full refresh keeps
    watching the namespaces it watched (and still updates them), with
    result partial; when the parameter names another namespace, that one is
    served. outcome: that of the GetParameter calls meanwhile."""
    r = Run(fake, *FULL, f'--cloudmap.namespaces-parameter={PARAM}', state=two_namespaces())
    spoil()
    register(fake, 'one', 'web', 'i-2', '10.0.0.2')
    r.wait_refreshes(1, result='partial', kinds=('full',))
    r.rebase()  # from here every full refresh is partial
    r.wait_refreshes(2, result='partial', kinds=('full',))
    r.wait_serving(T1, what='the last namespaces still refreshed')
    get = requests_key('GetParameter', outcome, 'ssm')
    r.wait_relation('one GetParameter call per full refresh, each partial', lambda m: (
        r.delta(get, m) == r.delta_of(lambda x: refreshes(x, 'partial', ('full',)), m) >= 2
        and r.delta_of(lambda x: refreshes(x, 'success', ('full',)), m) == 0
        and r.delta_of(lambda x: refreshes(x, 'failure'), m) == 0))
    fake.admin('ssm/parameters', {'Name': PARAM, 'Value': 'two'})
    r.wait_serving(['10.0.9.9:80'], what='the namespace the parameter names again')
    return r.finish([(200, T0), (200, T1), (200, ['10.0.9.9:80'])], says=says)


def case_ssm_parameter_missing(fake):
    parameter_case(fake, lambda: fake.admin('ssm/parameters/delete', {'Name': PARAM}),
                   'client_error', says=('GetParameter', 'ParameterNotFound'))


def case_ssm_parameter_empty(fake):
    # SSM refuses an empty value; a blank one is the closest.
    parameter_case(fake, lambda: fake.admin('ssm/parameters', {'Name': PARAM, 'Value': ' '}),
                   'success', says=('GetParameter', PARAM, 'comma-separated'))


CASES = [
    case_throttling_burst,
    case_5xx_burst,
    case_malformed_json,
    case_truncated_bodies,
    case_connection_resets,
    case_slow_drip,
    case_hang_past_every_timeout,
    case_credentials_expire_mid_run_and_are_renewed,
    case_credentials_lapse_early_then_renewed,
    case_credentials_endpoint_down_while_cached_valid,
    case_credentials_endpoint_down_after_expiry,
    case_ssm_parameter_missing,
    case_ssm_parameter_empty,
]


def main():
    fake = Fake()
    try:
        return run_cases(CASES, fake, after_case=check_no_rejections)
    finally:
        fake.stop()


if __name__ == '__main__':
    sys.exit(main())
