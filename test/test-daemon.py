#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-daemon: cloudmap-sd as a process against the AWS fake (suite
'integration').

Each case gets a reset fake (test/fake/fakeaws.py, one per run), starts
cloudmap-sd on a free loopback port with the flags it is about, and checks
what a user sees: /targets compared exactly with the expected JSON, the
health and readiness endpoints, /metrics (checked by promtool), signals,
exit codes, and the AWS calls the fake counted. Every case ends with "the
fake rejected no request" (every call was one AWS would accept). Waits poll
with deadlines; nothing sleeps to synchronise. Prints TAP.

  test-daemon.py [CLOUDMAP_SD_BINARY]    (or the variable of that name)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

from harness import (Daemon, Fake, connections, run_cases, run_flags,  # noqa: E402
                     strict_json, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'daemon')
METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
FAST = ('--refresh.interval=1s',)
# The refresher's interval has +-10% jitter.
INTERVAL_SEC = 1.1
# A refresh whose calls fail takes longer: the AWS client retries them with
# backoff (about 2 s for a 5xx answered every time).
RETRIES_SEC = 2.5
# Until a change shows in /targets while calls fail or just stopped
# failing: the refresh under way may be retrying, the next one sees it.
SETTLE_SEC = 2 * (INTERVAL_SEC + RETRIES_SEC)


def load_fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def ns(name, services, ns_type='HTTP', **more):
    return dict(Name=name, Type=ns_type, services=services, **more)


def svc(name, instances, tags=None, **more):
    tags = {'METRICS_PATH': '/metrics'} if tags is None else tags
    return dict(Name=name, Tags=tags, instances=instances, **more)


def inst(instance_id, ipv4, **attrs):
    return {'Id': instance_id, 'Attributes': dict(AWS_INSTANCE_IPV4=ipv4, **attrs)}


def addresses(targets):
    return [a for group in targets for a in group['targets']]


def instance_ids(targets):
    return [g['labels']['__meta_cloudmap_instance_id'] for g in targets]


def register(fake, namespace, service, instance_id, ipv4, **attrs):
    fake.admin('instances/register', {
        'NamespaceName': namespace, 'ServiceName': service, 'InstanceId': instance_id,
        'Attributes': dict(AWS_INSTANCE_IPV4=ipv4, **attrs)})


def check_no_rejections(fake):
    rejected = fake.rejections()
    assert rejected == [], f'the fake rejected requests AWS would refuse: {rejected[:3]}'


def quiet_point(fake, daemon, window_sec=0.1):
    """Light refreshes done and the fake's call counts, read where no refresh
    is in flight: both unchanged across a window. Returns (light, calls)."""
    def stable():
        light, calls = daemon.refreshes('light'), fake.calls()
        until = time.monotonic() + window_sec
        wait_for(lambda: time.monotonic() >= until, window_sec + 1, 'the window passes')
        if daemon.refreshes('light') == light and fake.calls() == calls:
            return light, calls
        return None
    return wait_for(stable, 10, 'a moment between two refreshes')


def wait_kept_refreshes(daemon, n, kinds=('full', 'light'), result='partial'):
    """Waits for n more refreshes that kept the last good state of a part
    (result partial) or, when they could confirm nothing at all, of
    everything (result failure)."""
    count = lambda: sum(daemon.refreshes(k, result) for k in kinds)  # noqa: E731
    start = count()
    wait_for(lambda: count() >= start + n, (n + 1) * (INTERVAL_SEC + RETRIES_SEC),
             f'{n} refreshes with result {result}')


# ---- the expected targets of labels-state.json ----

NAMESPACES = {
    'alpha': ('ns-alpha00000000001', 'DNS_PRIVATE'),
    'beta': ('ns-beta000000000001', 'HTTP'),
    'gamma': ('ns-gamma00000000001', 'DNS_PUBLIC'),
}
SERVICES = {
    'api': 'srv-api000000000001', 'knobs': 'srv-knobs0000000001',
    'slow': 'srv-slow00000000001', 'untagged': 'srv-untagged0000001',
    'web': 'srv-web000000000001', 'pub': 'srv-pub000000000001',
}
# Service tags as labels, keys sanitized. Of "x.y" and "x/y" (both x_y) the
# original key first in byte order wins: "." is 0x2e, "/" 0x2f.
TAGS = {
    'api': {'METRICS_PATH': '/metrics', 'METRICS_PORT': '9100', 'ECS_METRICS_PORT': '9779',
            'ECS_METRICS_PATH': '/ecs-metrics', 'METRICS_PORT_envoy': '9901',
            'METRICS_PATH_envoy': '/stats/prometheus', 'METRICS_SCHEME': 'https',
            'SCRAPE_INTERVAL': '15s', 'SCRAPE_TIMEOUT': '10s', 'team_name': 'obs',
            'x_y': 'dot'},
    'knobs': {'METRICS_PATH': '/m', 'METRICS_SCHEME': 'ftp', 'SCRAPE_INTERVAL': '15',
              'SCRAPE_TIMEOUT': '5s', 'ECS_METRICS_PORT': '9779', 'METRICS_PORT_x': '99999',
              'METRICS_PATH_x': '/x', 'METRICS_PATH_lone': '/lone'},
    'slow': {'METRICS_PATH': '/metrics', 'METRICS_SCHEME': 'http', 'SCRAPE_INTERVAL': '1m',
             'SCRAPE_TIMEOUT': '2m'},
    'untagged': {},
    'web': {'METRICS_PATH': '/metrics'},
    'pub': {'METRICS_PATH': '/metrics'},
}
# The knobs that survive validation, per service: api all three; knobs only
# the timeout (scheme ftp and interval "15" are bad); slow the scheme and
# the interval (its timeout is longer than its interval).
KNOBS = {
    'api': {'__scheme__': 'https', '__scrape_interval__': '15s', '__scrape_timeout__': '10s'},
    'knobs': {'__scrape_timeout__': '5s'},
    'slow': {'__scheme__': 'http', '__scrape_interval__': '1m'},
}
# Instance attributes as labels. Of "a.b" and "a-b" the byte-order first,
# "a-b" (0x2d), wins; "ünïcode" sanitizes to "_n_code" (one '_' per
# character, as Prometheus's own discoveries do).
ATTRS = {
    'i-a1': {'AWS_INSTANCE_IPV4': '10.0.0.1', 'AWS_INSTANCE_PORT': '8080',
             'ECS_CLUSTER_NAME': 'prod', 'a_b': 'dash'},
    'i-a2': {'AWS_INSTANCE_IPV6': 'fd00::2', 'METRICS_PORT': '9200', 'METRICS_PATH': '/custom'},
    'i-k1': {'AWS_INSTANCE_IPV4': '10.0.1.1', 'AWS_INSTANCE_PORT': '8080'},
    'i-s1': {'AWS_INSTANCE_IPV4': '10.0.2.1'},
    'i-u1': {'AWS_INSTANCE_IPV4': '10.0.3.1', 'AWS_INSTANCE_PORT': '7000',
             'METRICS_PATH': '/own'},
    'i-u2': {'AWS_INSTANCE_IPV4': '10.0.3.2'},
    'i-w1': {'AWS_INSTANCE_IPV4': '10.1.0.1', 'AWS_INSTANCE_PORT': '3000',
             'ECS_CLUSTER_NAME': 'c1', 'ECS_SERVICE_NAME': 'websvc',
             'ECS_TASK_DEFINITION_FAMILY': 'webtd', '_n_code': 'v\u00e4lue'},
    'i-p1': {'AWS_INSTANCE_IPV4': '10.2.0.1', 'AWS_INSTANCE_PORT': '9000'},
}
HEALTH = {'i-a2': 'UNHEALTHY', 'i-w1': 'UNKNOWN'}  # web has no health checks
LEGACY = {  # --labels.legacy: from ECS_* attributes, when present
    'i-a1': {'cluster': 'prod'},
    'i-w1': {'cluster': 'c1', 'service': 'websvc', 'taskdefinition': 'webtd'},
}
# (address, namespace, service, instance, endpoint, __metrics_path__), in
# the order promised: namespace, service, instance id, endpoint.
TARGETS = [
    # Port: the tag METRICS_PORT beats the attribute AWS_INSTANCE_PORT.
    ('10.0.0.1:9100', 'alpha', 'api', 'i-a1', 'app', '/metrics'),
    ('10.0.0.1:9779', 'alpha', 'api', 'i-a1', 'ecs', '/ecs-metrics'),
    ('10.0.0.1:9901', 'alpha', 'api', 'i-a1', 'envoy', '/stats/prometheus'),
    # IPv6; the attributes METRICS_PORT/METRICS_PATH override the tags for
    # the app endpoint only.
    ('[fd00::2]:9200', 'alpha', 'api', 'i-a2', 'app', '/custom'),
    ('[fd00::2]:9779', 'alpha', 'api', 'i-a2', 'ecs', '/ecs-metrics'),
    ('[fd00::2]:9901', 'alpha', 'api', 'i-a2', 'envoy', '/stats/prometheus'),
    # i-a3 (no address), i-a4 (bad port), i-a5 (bad path), i-a6 (bad IPv4):
    # skipped. knobs: no ecs endpoint (no path), no "x" (port 99999), no
    # "lone" (no port); the port from AWS_INSTANCE_PORT.
    ('10.0.1.1:8080', 'alpha', 'knobs', 'i-k1', 'app', '/m'),
    ('10.0.2.1:80', 'alpha', 'slow', 'i-s1', 'app', '/metrics'),
    ('10.1.0.1:3000', 'beta', 'web', 'i-w1', 'app', '/metrics'),
    ('10.2.0.1:9000', 'gamma', 'pub', 'i-p1', 'app', '/metrics'),
]
# With --cloudmap.default-metrics-path=/dflt the untagged service is
# scraped too; i-u1's own METRICS_PATH attribute beats the default.
UNTAGGED_TARGETS = [
    ('10.0.3.1:7000', 'alpha', 'untagged', 'i-u1', 'app', '/own'),
    ('10.0.3.2:80', 'alpha', 'untagged', 'i-u2', 'app', '/dflt'),
]


def expected_group(address, namespace, service, instance, endpoint, path, legacy=False):
    ns_id, ns_type = NAMESPACES[namespace]
    labels = {
        '__meta_cloudmap_namespace_name': namespace,
        '__meta_cloudmap_namespace_id': ns_id,
        '__meta_cloudmap_namespace_type': ns_type,
        '__meta_cloudmap_service_name': service,
        '__meta_cloudmap_service_id': SERVICES[service],
        '__meta_cloudmap_instance_id': instance,
        '__meta_cloudmap_instance_health_status': HEALTH.get(instance, 'HEALTHY'),
        '__meta_cloudmap_endpoint': endpoint,
        '__metrics_path__': path,
    }
    labels.update({f'__meta_cloudmap_service_tag_{k}': v for k, v in TAGS[service].items()})
    labels.update({f'__meta_cloudmap_instance_attribute_{k}': v
                   for k, v in ATTRS[instance].items()})
    labels.update(KNOBS.get(service, {}))
    if legacy:
        labels.update(namespace=namespace, taskid=instance, **LEGACY.get(instance, {}))
    return {'targets': [address], 'labels': labels}


def expected_targets(rows, legacy=False):
    key = lambda r: (r[1], r[2], r[3])  # noqa: E731 -- the endpoint order stays as listed
    return [expected_group(*r, legacy=legacy) for r in sorted(rows, key=key)]


def diff_targets(got, want):
    """A readable difference of two target lists, or '' when equal."""
    if got == want:
        return ''
    lines = [f'{len(got)} groups, want {len(want)}']
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g == w:
            continue
        if g is None or w is None:
            lines.append(f'[{i}] got {g and g["targets"]}, want {w and w["targets"]}')
            continue
        if g['targets'] != w['targets']:
            lines.append(f'[{i}] targets {g["targets"]}, want {w["targets"]}')
        gl, wl = g['labels'], w['labels']
        for k in sorted(set(gl) | set(wl)):
            if gl.get(k) != wl.get(k):
                lines.append(f'[{i}] {w["targets"]} {k}: {gl.get(k)!r}, want {wl.get(k)!r}')
    return '\n'.join(lines)


def assert_targets(got, want):
    diff = diff_targets(got, want)
    assert not diff, 'unexpected /targets:\n' + diff


# ---- the cases ----

def case_endpoints_before_and_after_the_first_discovery(fake):
    fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
    fake.fault(operation='ListNamespaces', kind='hang')
    d = Daemon(fake, *FAST)
    wait_for(lambda: connections(d.proc.pid, fake.aws_port()) >= 1, 5,
             'ListNamespaces is called (and hangs)')
    status, headers, body = d.get('/-/healthy')
    assert status == 200, f'/-/healthy answered {status} while discovery hangs'
    status, headers, body = d.get('/-/ready')
    assert status == 503, f'/-/ready answered {status} before the first discovery'
    for path in ('/targets', '/prometheus-targets'):
        status, headers, body = d.get(path)
        assert status == 503, f'{path} answered {status} before the first discovery'
        assert headers.get('content-type') == 'application/json', headers
        error = strict_json(body)
        assert isinstance(error, dict) and list(error) == ['error'] and error['error'], error
    fake.clear_faults()
    wait_for(lambda: d.get('/-/ready')[0] == 200, 5, '/-/ready turns 200')
    status, headers, body = d.get('/targets')
    assert status == 200, f'/targets answered {status} after discovery'
    assert headers.get('content-type') == 'application/json', headers
    assert headers.get('cache-control') == 'no-store', headers
    assert addresses(strict_json(body)) == ['10.0.0.1:80']
    status, _, alias = d.get('/prometheus-targets')
    assert status == 200 and alias == body, 'the /prometheus-targets alias differs'
    status, headers, head = d.get('/targets', method='HEAD')
    assert status == 200 and head == b'', f'HEAD /targets: {status} {head!r}'
    status, headers, body = d.get('/targets', method='POST')
    assert status == 405, f'POST /targets answered {status}'
    assert 'GET' in headers.get('allow', ''), f'405 without Allow: GET: {headers}'
    assert 'error' in strict_json(body)
    status, headers, body = d.get('/no/such/path')
    assert status == 404, f'an unknown path answered {status}'
    assert 'error' in strict_json(body)
    status, headers, _ = d.get('/metrics')
    assert status == 200 and headers.get('content-type') == METRICS_CONTENT_TYPE, headers


def case_503_without_valid_credentials(fake):
    fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
    key = 'AKIAUNKNOWNKEY000001'
    d = Daemon(fake, *FAST, env={'AWS_ACCESS_KEY_ID': key})
    d.wait_refreshes('full', 2, result='failure')
    status, body = d.targets()
    assert status == 503, f'/targets answered {status} with no valid credentials'
    assert list(body) == ['error'], body
    assert d.get('/-/ready')[0] == 503, '/-/ready is 200 without any discovery'
    # The only rejections: the unknown key, as expected; then none is left.
    rejected = fake.rejections()
    assert rejected, 'the fake saw no request with the unknown key'
    other = [r for r in rejected if r.get('error') != 'UnrecognizedClientException'
             or r.get('access_key_id') != key]
    assert not other, f'rejections other than the unknown key: {other[:3]}'
    fake.admin('requests/clear', {})


def case_pagination_at_every_level(fake):
    names = ['n1', 'n2', 'n3']
    fake.load({'namespaces': [
        ns(n, [svc(f's{j}', [inst(f'i-{i}{j}', f'10.0.{i}.{j}')]) for j in range(1, 4)])
        for i, n in enumerate(names, 1)]})
    for op in ('ListNamespaces', 'ListServices'):
        fake.admin('pages', {'operation': op, 'page_size': 1, 'empty_pages': 2})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1h')
    targets = d.wait_targets()
    want = [f'10.0.{i}.{j}:80' for i in range(1, 4) for j in range(1, 4)]
    assert addresses(targets) == want, f'targets {addresses(targets)}, want {want}'
    # Two empty pages, then one page per item: 5 pages per listing.
    calls = fake.calls()
    assert calls.get('ListNamespaces') == 5, f'ListNamespaces pages: {calls}'
    assert calls.get('ListServices') == 15, f'ListServices pages: {calls}'


def case_labels_and_target_rules(fake):
    fake.load(load_fixture('labels-state.json'))
    d = Daemon(fake, *FAST)
    assert_targets(d.wait_targets(), expected_targets(TARGETS))
    m = d.metrics()
    skipped = {r: m.get(f'cloudmap_sd_skipped_instances{{reason="{r}"}}')
               for r in ('no_metrics_path', 'no_address', 'bad_port', 'bad_path')}
    want = {'no_metrics_path': 2, 'no_address': 2, 'bad_port': 1, 'bad_path': 1}
    assert skipped == want, f'skipped instances {skipped}, want {want}'
    for (ns_name, service), n in {('alpha', 'api'): 6, ('alpha', 'untagged'): 0,
                                  ('beta', 'web'): 1}.items():
        key = f'cloudmap_sd_targets{{namespace="{ns_name}",service="{service}"}}'
        assert m.get(key) == n, f'{key} is {m.get(key)}, want {n}'
    for e in fake.admin('requests'):
        if e['operation'] == 'DiscoverInstances':
            p = e['params']
            assert p.get('MaxResults') == 1000 and p.get('HealthStatus') == 'ALL', p
            assert p['NamespaceName'] != 'beta', 'DiscoverInstances used the name, not the ' \
                'HTTP name, of namespace beta'


def case_default_metrics_path_and_legacy_labels(fake):
    fake.load(load_fixture('labels-state.json'))
    d = Daemon(fake, *FAST, '--cloudmap.default-metrics-path=/dflt', '--labels.legacy')
    want = expected_targets(TARGETS + UNTAGGED_TARGETS, legacy=True)
    assert_targets(d.wait_targets(), want)
    no_path = d.metric('cloudmap_sd_skipped_instances{reason="no_metrics_path"}')
    assert no_path == 0, f'{no_path} instances skipped for no metrics path with a default'


def case_bad_tag_values_are_logged(fake):
    fake.load(load_fixture('labels-state.json'))
    d = Daemon(fake, *FAST)
    d.wait_targets()
    for what in ('METRICS_SCHEME', 'SCRAPE_INTERVAL', 'SCRAPE_TIMEOUT', 'ECS_METRICS_PORT',
                 'METRICS_PORT_x', 'METRICS_PATH_lone'):
        wait_for(lambda: what in d.text(), 3, f'a log line names the bad tag {what}')


def case_health_status_filter(fake):
    fake.load({'namespaces': [ns('prod', [svc('web', [
        dict(inst('h-1', '10.0.0.1'), HealthStatus='HEALTHY'),
        dict(inst('h-2', '10.0.0.2'), HealthStatus='UNHEALTHY')])])]})
    want = {None: ['h-1', 'h-2'], 'ALL': ['h-1', 'h-2'], 'HEALTHY': ['h-1'],
            'UNHEALTHY': ['h-2'], 'HEALTHY_OR_ELSE_ALL': ['h-1']}
    daemons = {h: Daemon(fake, *FAST, *([f'--cloudmap.health-status={h}'] if h else []))
               for h in want}
    for h, d in daemons.items():
        got = instance_ids(d.wait_targets())
        assert got == want[h], f'--cloudmap.health-status={h}: {got}, want {want[h]}'
    health = {g['labels']['__meta_cloudmap_instance_id']:
              g['labels']['__meta_cloudmap_instance_health_status']
              for g in daemons['ALL'].targets()[1]}
    assert health == {'h-1': 'HEALTHY', 'h-2': 'UNHEALTHY'}, health


def case_revision_skip_between_full_refreshes(fake):
    fake.load({'namespaces': [
        ns('one', [svc('a', [inst('i-a', '10.0.0.1')]), svc('b', [inst('i-b', '10.0.0.2')])]),
        ns('two', [svc('c', [inst('i-c', '10.0.0.3')])])]})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1h')
    d.wait_targets()
    light0, calls0 = quiet_point(fake, d)
    d.wait_refreshes('light', light0 + 3)
    light1, calls1 = quiet_point(fake, d)
    delta = {op: n - calls0.get(op, 0) for op, n in calls1.items() if n != calls0.get(op, 0)}
    want = {'DiscoverInstancesRevision': 3 * (light1 - light0)}
    assert delta == want, f'{light1 - light0} light refreshes made calls {delta}, want {want}'
    register(fake, 'one', 'b', 'i-b2', '10.0.0.4')
    wait_for(lambda: '10.0.0.4:80' in addresses(d.targets()[1]), 3 * INTERVAL_SEC,
             'the new instance is served')
    light2, calls2 = quiet_point(fake, d)
    delta = {op: n - calls1.get(op, 0) for op, n in calls2.items() if n != calls1.get(op, 0)}
    want = {'DiscoverInstancesRevision': 3 * (light2 - light1), 'DiscoverInstances': 1}
    assert delta == want, f'after one registration: calls {delta}, want {want}'
    assert d.refreshes('full') == 1, 'a full refresh ran within --refresh.full-interval'


def case_unchanged_light_refreshes_keep_the_targets_fresh(fake):
    """Light refreshes that find no revision moved confirm the snapshot in
    service instead of rendering it again: it must stay fresh, well past
    --refresh.max-staleness, without a full refresh."""
    fake.load({'namespaces': [ns('one', [svc('a', [inst('i-a', '10.0.0.1')])])]})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1h', '--refresh.max-staleness=3s')
    before = d.wait_targets()
    light0 = d.refreshes('light')
    d.wait_refreshes('light', light0 + 5)
    status, body = d.targets()
    assert status == 200, f'/targets answered {status} after 5 unchanged light refreshes'
    assert_targets(body, before)
    age = d.metric('cloudmap_sd_snapshot_age_seconds')
    assert age < 2 * INTERVAL_SEC + 1, f'the snapshot is {age} s old'
    assert d.refreshes('full') == 1, 'no full refresh ran'


def case_failing_discover_instances_keeps_last_targets(fake):
    fake.load({'namespaces': [
        ns('prod', [svc('api', [inst('i-a', '10.0.0.1')]), svc('web', [inst('i-w', '10.0.0.2')])])
    ]})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1s')
    before = d.wait_targets()
    fake.fault(operation='DiscoverInstances', kind='error', status=500, code='InternalFailure')
    register(fake, 'prod', 'api', 'i-a2', '10.0.0.3')
    register(fake, 'prod', 'web', 'i-w2', '10.0.0.4')
    # Every service fails: nothing is confirmed, so the refreshes fail and
    # publish nothing, and the last good targets stay.
    wait_kept_refreshes(d, 2, result='failure')
    status, body = d.targets()
    assert status == 200, f'/targets answered {status} while DiscoverInstances fails'
    assert_targets(body, before)
    assert d.metric('cloudmap_sd_last_refresh_errors') == 2, 'both services failed'
    fake.clear_faults()
    want = ['10.0.0.1:80', '10.0.0.3:80', '10.0.0.2:80', '10.0.0.4:80']
    wait_for(lambda: addresses(d.targets()[1]) == want, SETTLE_SEC,
             'recovery: every instance served')


def case_failing_list_services_keeps_last_services(fake):
    fake.load({'namespaces': [ns('prod', [svc('api', [inst('i-a', '10.0.0.1')])]),
                              ns('test', [svc('web', [inst('i-w', '10.1.0.1')])])]})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1s')
    before = d.wait_targets()
    fake.fault(operation='ListServices', kind='error', status=503, code='ServiceUnavailable')
    fake.admin('services', {'NamespaceName': 'prod', 'Name': 'new', 'Tags':
                            {'METRICS_PATH': '/metrics'}})
    register(fake, 'prod', 'new', 'i-n', '10.0.0.9')
    wait_kept_refreshes(d, 2, kinds=('full',), result='failure')
    status, body = d.targets()
    assert status == 200, f'/targets answered {status} while ListServices fails'
    assert_targets(body, before)
    fake.clear_faults()
    wait_for(lambda: '10.0.0.9:80' in addresses(d.targets()[1]), SETTLE_SEC,
             'recovery: the new service is served')


def case_per_service_fault_isolation(fake):
    # The fault's "match" limits it to the calls for one service.
    fake.load({'namespaces': [
        ns('prod', [svc('api', [inst('i-a', '10.0.0.1')]), svc('web', [inst('i-w', '10.0.0.2')])])
    ]})
    d = Daemon(fake, *FAST, '--refresh.full-interval=1s')
    d.wait_targets()
    fake.fault(operation='DiscoverInstances', kind='error', status=500,
               match={'ServiceName': 'web'})
    register(fake, 'prod', 'api', 'i-a2', '10.0.0.3')
    register(fake, 'prod', 'web', 'i-w2', '10.0.0.4')
    wait_for(lambda: '10.0.0.3:80' in addresses(d.targets()[1]), SETTLE_SEC,
             'the healthy service api is refreshed')
    got = addresses(d.targets()[1])
    assert got == ['10.0.0.1:80', '10.0.0.3:80', '10.0.0.2:80'], \
        f'web must keep its last good instances: {got}'
    fake.clear_faults()
    wait_for(lambda: '10.0.0.4:80' in addresses(d.targets()[1]), SETTLE_SEC,
             'recovery: web is refreshed')


def staleness_case(fake, *flags):
    """An outage of every AWS call: /targets keeps the last targets, then
    answers 503 once they are older than --refresh.max-staleness (4s), and
    200 again after the outage."""
    fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
    d = Daemon(fake, *FAST, '--refresh.max-staleness=4s', *flags)
    before = d.wait_targets()
    start = time.monotonic()
    fake.fault(operation='*', kind='error', status=503, code='ServiceUnavailable')

    def stale():
        status, body = d.targets()
        if status == 200:
            assert_targets(body, before)
            return None
        assert status == 503 and list(body) == ['error'], (status, body)
        return time.monotonic() - start
    # Fresh up to 4s after the last success (at most one interval before
    # the outage; the age counts whole seconds); stale within 4s + one
    # interval + a poll.
    took = wait_for(stale, 4 + INTERVAL_SEC + 1, '/targets answers 503 once stale')
    assert took >= 4 - INTERVAL_SEC - 1, f'stale after only {took:.1f} s'
    # Stale stays stale while the outage lasts: watch two more refreshes.
    until = time.monotonic() + 2 * INTERVAL_SEC
    while time.monotonic() < until:
        status, body = d.targets()
        assert status == 503, f'/targets answered {status} again during the outage, ' \
            f'{time.monotonic() - start:.1f} s in'
        time.sleep(0.05)  # the poll interval
    fake.clear_faults()
    assert_targets(d.wait_targets(timeout=SETTLE_SEC, what='recovery'), before)


def case_outage_on_full_refreshes_goes_stale(fake):
    staleness_case(fake, '--refresh.full-interval=1s')


def case_outage_on_light_refreshes_goes_stale(fake):
    staleness_case(fake, '--refresh.full-interval=1h')


def case_sighup_refreshes_and_rereads_the_parameter(fake):
    param = '/cloudmap-sd/namespaces'
    fake.load({'namespaces': [ns('one', [svc('a', [inst('i-a', '10.0.0.1')])]),
                              ns('two', [svc('b', [inst('i-b', '10.0.0.2')])])],
               'ssm_parameters': [{'Name': param, 'Value': 'one'}]})
    d = Daemon(fake, '--refresh.interval=1m', f'--cloudmap.namespaces-parameter={param}')
    assert addresses(d.wait_targets()) == ['10.0.0.1:80']
    fake.admin('calls/reset', {})
    fake.admin('ssm/parameters', {'Name': param, 'Value': 'two'})
    d.send(signal.SIGHUP)
    wait_for(lambda: addresses(d.targets()[1]) == ['10.0.0.2:80'], 3,
             'after SIGHUP the namespace the parameter now names is served')
    calls = fake.calls()
    assert calls.get('GetParameter') == 1 and calls.get('ListNamespaces') == 1, \
        f'one SIGHUP, calls {calls}'
    d.send(signal.SIGHUP)
    wait_for(lambda: fake.calls('ListNamespaces') == 2, 3, 'a second SIGHUP refreshes again')
    assert d.proc.poll() is None, 'SIGHUP stopped the daemon'


def call_hangs(fake, daemon, op):
    """Whether op is in flight and held by a hang fault. The fake counts a
    call when it answers: a held call shows as a connection to it. Before
    DiscoverInstances come ListNamespaces, ListServices (one connection,
    reused) and ListTagsForResource, sent beside it (a second one)."""
    n = connections(daemon.proc.pid, fake.aws_port())
    if op == 'ListNamespaces':
        return n >= 1
    return fake.calls('ListTagsForResource') >= 1 and n >= 2


def stop_within_a_second(daemon, sig):
    rc, took = daemon.stop(sig)
    assert rc == 0, f'{signal.Signals(sig).name}: exit code {rc}'
    assert took <= 1.0, f'{signal.Signals(sig).name}: stopped after {took:.2f} s'


def case_sigterm_and_sigint_stop_within_a_second(fake):
    fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = Daemon(fake, *FAST)
        d.wait_targets()
        stop_within_a_second(d, sig)
    for op in ('ListNamespaces', 'DiscoverInstances'):
        for sig in (signal.SIGTERM, signal.SIGINT):
            fake.reset()
            fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
            fake.fault(operation=op, kind='hang')
            d = Daemon(fake, *FAST)
            wait_for(lambda: call_hangs(fake, d, op), 5, f'{op} is called (and hangs)')
            stop_within_a_second(d, sig)
            fake.clear_faults()


BAD_FLAGS = [
    (['--refresh.interval=abc'], {}, '--refresh.interval'),
    (['--no-such-flag'], {}, '--no-such-flag'),
    (['--log.level=loud'], {}, '--log.level'),
    (['--log.format=xml'], {}, '--log.format'),
    (['--cloudmap.health-status=SOME'], {}, '--cloudmap.health-status'),
    (['--web.listen-address=127.0.0.1:99999'], {}, '--web.listen-address'),
    (['--aws.max-concurrency=0'], {}, '--aws.max-concurrency'),
    (['--refresh.interval=10s', '--refresh.max-staleness=5s'], {}, '--refresh.max-staleness'),
    (['--refresh.interval=10s', '--refresh.full-interval=5s'], {}, '--refresh.full-interval'),
    (['--cloudmap.namespaces=a', '--cloudmap.namespaces-parameter=p'], {},
     '--cloudmap.namespaces-parameter'),
    (['unexpected-argument'], {}, 'unexpected-argument'),
    ([], {'CLOUDMAP_SD_LOG_LEVEL': 'loud'}, 'CLOUDMAP_SD_LOG_LEVEL'),
    ([], {'CLOUDMAP_SD_REFRESH_INTERVAL': 'soon'}, 'CLOUDMAP_SD_REFRESH_INTERVAL'),
    ([], {'CLOUDMAP_SD_LABELS_LEGACY': 'maybe'}, 'CLOUDMAP_SD_LABELS_LEGACY'),
    ([], {'CLOUDMAP_SD_CLOUDMAP_HEALTH_STATUS': 'SOME'}, 'CLOUDMAP_SD_CLOUDMAP_HEALTH_STATUS'),
]


def case_bad_flags_and_environment_exit_2(fake):
    for flags, env, name in BAD_FLAGS:
        rc, out, err = run_flags(*flags, env=fake.env(**env))
        assert rc == 2, f'{flags} {env}: exit code {rc}, want 2 ({err.strip()!r})'
        assert name in err, f'{flags} {env}: the message does not name {name}: {err!r}'
    rc, out, err = run_flags('--help', env=fake.env())
    assert rc == 0 and '--refresh.interval' in out, f'--help: {rc} {err!r}'


# Every metric the issue lists, as the family names in the text format.
METRICS = [
    'cloudmap_sd_build_info', 'cloudmap_sd_refresh_duration_seconds',
    'cloudmap_sd_refreshes_total', 'cloudmap_sd_last_success_timestamp_seconds',
    'cloudmap_sd_targets', 'cloudmap_sd_aws_requests_total', 'cloudmap_sd_aws_retries_total',
    'cloudmap_sd_aws_throttles_total', 'cloudmap_sd_skipped_instances',
    'cloudmap_sd_http_requests_total', 'cloudmap_sd_snapshot_age_seconds',
    'process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds',
    'process_start_time_seconds',
]


def case_metrics_pass_promtool(fake):
    promtool = shutil.which('promtool')
    assert promtool, 'promtool not found (Debian package prometheus)'
    fake.load({'namespaces': [ns('prod', [svc('web', [inst('i-1', '10.0.0.1')])])]})
    # One throttled call, retried: the retry and throttle series exist.
    fake.fault(operation='ListNamespaces', kind='error', status=400,
               code='ThrottlingException', message='Rate exceeded', count=1)
    d = Daemon(fake, *FAST)
    d.wait_targets()
    status, headers, body = d.get('/metrics')
    assert headers.get('content-type') == METRICS_CONTENT_TYPE, headers
    text = body.decode()
    r = subprocess.run([promtool, 'check', 'metrics'], input=text, capture_output=True,
                       text=True, timeout=30)
    findings = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not findings, f'promtool ({r.returncode}): {findings}'
    families = {line.split()[2] for line in text.splitlines() if line.startswith('# TYPE ')}
    missing = [m for m in METRICS if m not in families]
    assert not missing, f'metrics missing: {missing}'
    m = d.metrics()
    want = {
        'cloudmap_sd_targets{namespace="prod",service="web"}': 1,
        'cloudmap_sd_aws_throttles_total{service="servicediscovery",'
        'operation="ListNamespaces"}': 1,
        'cloudmap_sd_aws_retries_total{service="servicediscovery",'
        'operation="ListNamespaces"}': 1,
        'cloudmap_sd_refreshes_total{kind="full",result="success"}': 1,
    }
    for key, value in want.items():
        assert m.get(key) == value, f'{key} is {m.get(key)}, want {value}'
    assert m.get('cloudmap_sd_http_requests_total{handler="targets",code="200"}', 0) >= 1
    assert abs(m['cloudmap_sd_last_success_timestamp_seconds'] - time.time()) < 60


CASES = [
    case_endpoints_before_and_after_the_first_discovery,
    case_503_without_valid_credentials,
    case_pagination_at_every_level,
    case_labels_and_target_rules,
    case_default_metrics_path_and_legacy_labels,
    case_bad_tag_values_are_logged,
    case_health_status_filter,
    case_revision_skip_between_full_refreshes,
    case_unchanged_light_refreshes_keep_the_targets_fresh,
    case_failing_discover_instances_keeps_last_targets,
    case_failing_list_services_keeps_last_services,
    case_per_service_fault_isolation,
    case_outage_on_full_refreshes_goes_stale,
    case_outage_on_light_refreshes_goes_stale,
    case_sighup_refreshes_and_rereads_the_parameter,
    case_sigterm_and_sigint_stop_within_a_second,
    case_bad_flags_and_environment_exit_2,
    case_metrics_pass_promtool,
]


def main():
    fake = Fake()
    try:
        return run_cases(CASES, fake, after_case=check_no_rejections)
    finally:
        fake.stop()


if __name__ == '__main__':
    sys.exit(main())
