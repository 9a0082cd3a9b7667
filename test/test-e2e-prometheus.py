#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-e2e-prometheus: cloudmap-sd end to end with the real Prometheus
(suite 'e2e').

The AWS fake holds two namespaces; cloudmap-sd serves them; Debian's
prometheus (/usr/bin/prometheus) runs on a free loopback port with a
generated config whose http_sd_configs point at cloudmap-sd (refresh 1s) and
whose relabel_configs map the namespace, service and ECS cluster. One target
is cloudmap-sd's own /metrics, so it is really scraped and "up"; the others
are unroutable documentation addresses (192.0.2.0/24) and are "down", which
is fine. Checked through Prometheus's HTTP API:
  - every expected target is active with the expected discovered labels and
    labels, and the real one is up with its relabeled series stored;
  - deregistered instances are dropped;
  - during an AWS outage (every call fails for several refreshes of both,
    long enough for cloudmap-sd to answer 503) every target is kept.
Prometheus 2.x batches what its discovery sends to its scrape manager and
reloads that manager on a fixed 5 s tick: a change reaches the targets API up
to ~10 s after http_sd read it. The deadlines below add that to the refresh
intervals and say so. Prints TAP.

  test-e2e-prometheus.py [CLOUDMAP_SD_BINARY]    (or the variable)
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

import harness  # noqa: E402
from harness import Daemon, Fake, free_port, run_cases, wait_for  # noqa: E402

JOB = 'cloudmap'
SD_INTERVAL_SEC = 1.1  # cloudmap-sd's --refresh.interval=1s, +-10% jitter
HTTP_SD_SEC = 1.0  # http_sd_configs' refresh_interval
PROMETHEUS_SYNC_SEC = 10.0  # discovery batching (5 s) + scrape manager reload tick (5 s)
DROP_SEC = 2 * (SD_INTERVAL_SEC + HTTP_SD_SEC) + PROMETHEUS_SYNC_SEC + 1
OUTAGE_SEC = 8.0  # > max staleness (3s) + several refreshes + one Prometheus sync
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1m
scrape_configs:
  - job_name: {job}
    http_sd_configs:
      - url: http://127.0.0.1:{sd_port}/targets
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [__meta_cloudmap_namespace_name]
        target_label: namespace
      - source_labels: [__meta_cloudmap_service_name]
        target_label: service
      - source_labels: [__meta_cloudmap_instance_attribute_ECS_CLUSTER_NAME]
        target_label: cluster
"""


def state(sd_port):
    return {'namespaces': [
        {'Name': 'ecs-services', 'Type': 'DNS_PRIVATE', 'Id': 'ns-e2e0000000000001',
         'services': [
             {'Name': 'self', 'Id': 'srv-self00000000001',
              'Tags': {'METRICS_PATH': '/metrics', 'METRICS_PORT': str(sd_port)},
              'instances': [{'Id': 'i-self', 'Attributes': {
                  'AWS_INSTANCE_IPV4': '127.0.0.1', 'ECS_CLUSTER_NAME': 'local'}}]},
             {'Name': 'web', 'Id': 'srv-web000000000001',
              'Tags': {'METRICS_PATH': '/metrics', 'METRICS_PORT': '9100'},
              'instances': [
                  {'Id': 'i-w1', 'Attributes': {'AWS_INSTANCE_IPV4': '192.0.2.1',
                                                'ECS_CLUSTER_NAME': 'prod'}},
                  {'Id': 'i-w2', 'HealthStatus': 'UNHEALTHY',
                   'Attributes': {'AWS_INSTANCE_IPV4': '192.0.2.2'}}]}]},
        {'Name': 'platform', 'Type': 'HTTP', 'Id': 'ns-e2e0000000000002',
         'services': [
             {'Name': 'api', 'Id': 'srv-api000000000001',
              'Tags': {'METRICS_PATH': '/metrics', 'ECS_METRICS_PORT': '9779',
                       'ECS_METRICS_PATH': '/ecs'},
              'instances': [{'Id': 'i-a1', 'Attributes': {
                  'AWS_INSTANCE_IPV4': '192.0.2.10', 'AWS_INSTANCE_PORT': '8080',
                  'ECS_CLUSTER_NAME': 'prod'}}]}]},
    ]}


NAMESPACES = {'ecs-services': ('ns-e2e0000000000001', 'DNS_PRIVATE'),
              'platform': ('ns-e2e0000000000002', 'HTTP')}
SERVICE_IDS = {'self': 'srv-self00000000001', 'web': 'srv-web000000000001',
               'api': 'srv-api000000000001'}


def expected(sd_port):
    """address -> (discovered labels cloudmap-sd owns, labels after
    relabeling), written out from state()."""
    tags = {
        'self': {'METRICS_PATH': '/metrics', 'METRICS_PORT': str(sd_port)},
        'web': {'METRICS_PATH': '/metrics', 'METRICS_PORT': '9100'},
        'api': {'METRICS_PATH': '/metrics', 'ECS_METRICS_PORT': '9779',
                'ECS_METRICS_PATH': '/ecs'},
    }
    attrs = {
        'i-self': {'AWS_INSTANCE_IPV4': '127.0.0.1', 'ECS_CLUSTER_NAME': 'local'},
        'i-w1': {'AWS_INSTANCE_IPV4': '192.0.2.1', 'ECS_CLUSTER_NAME': 'prod'},
        'i-w2': {'AWS_INSTANCE_IPV4': '192.0.2.2'},
        'i-a1': {'AWS_INSTANCE_IPV4': '192.0.2.10', 'AWS_INSTANCE_PORT': '8080',
                 'ECS_CLUSTER_NAME': 'prod'},
    }
    rows = [  # address, namespace, service, instance, health, endpoint, path
        (f'127.0.0.1:{sd_port}', 'ecs-services', 'self', 'i-self', 'HEALTHY', 'app',
         '/metrics'),
        ('192.0.2.1:9100', 'ecs-services', 'web', 'i-w1', 'HEALTHY', 'app', '/metrics'),
        ('192.0.2.2:9100', 'ecs-services', 'web', 'i-w2', 'UNHEALTHY', 'app', '/metrics'),
        ('192.0.2.10:8080', 'platform', 'api', 'i-a1', 'HEALTHY', 'app', '/metrics'),
        ('192.0.2.10:9779', 'platform', 'api', 'i-a1', 'HEALTHY', 'ecs', '/ecs'),
    ]
    out = {}
    for address, ns, svc, inst, health, endpoint, path in rows:
        discovered = {
            '__address__': address, '__metrics_path__': path,
            '__meta_cloudmap_namespace_name': ns,
            '__meta_cloudmap_namespace_id': NAMESPACES[ns][0],
            '__meta_cloudmap_namespace_type': NAMESPACES[ns][1],
            '__meta_cloudmap_service_name': svc,
            '__meta_cloudmap_service_id': SERVICE_IDS[svc],
            '__meta_cloudmap_instance_id': inst,
            '__meta_cloudmap_instance_health_status': health,
            '__meta_cloudmap_endpoint': endpoint,
        }
        discovered.update({f'__meta_cloudmap_service_tag_{k}': v for k, v in tags[svc].items()})
        discovered.update({f'__meta_cloudmap_instance_attribute_{k}': v
                           for k, v in attrs[inst].items()})
        labels = {'instance': address, 'job': JOB, 'namespace': ns, 'service': svc}
        if 'ECS_CLUSTER_NAME' in attrs[inst]:
            labels['cluster'] = attrs[inst]['ECS_CLUSTER_NAME']
        out[address] = (discovered, labels)
    return out


class Prometheus(harness.Prometheus):
    """Prometheus with http_sd on cloudmap-sd at sd_port."""

    def __init__(self, sd_port):
        super().__init__(CONFIG.format(job=JOB, sd_port=sd_port), 'daemontest-prometheus-')

    def active(self):
        """address -> active target of our job."""
        targets = self.api('targets', state='active')['activeTargets']
        return {t['labels']['instance']: t for t in targets if t['scrapePool'] == JOB}


class Stage:
    """The fake's state, cloudmap-sd and Prometheus, up and agreeing."""

    def __init__(self, fake):
        self.sd_port = free_port()
        fake.load(state(self.sd_port))
        self.sd = Daemon(fake, '--refresh.interval=1s', '--refresh.full-interval=1s',
                         '--refresh.max-staleness=3s', port=self.sd_port)
        self.want = expected(self.sd_port)
        wait_for(lambda: self.served() == set(self.want), 5, 'cloudmap-sd serves the targets')
        self.prom = Prometheus(self.sd_port)

    def served(self):
        status, _, body = self.sd.get('/targets')
        return {a for g in json.loads(body) for a in g['targets']} if status == 200 else None

    def wait_active(self, addresses, timeout, what):
        wait_for(lambda: set(self.prom.active()) == addresses, timeout, what)

    def stop(self):
        self.prom.stop()
        self.sd.stop()


def on_stage(fake, body):
    """Runs body(stage); on a failure shows Prometheus's log."""
    st = Stage(fake)
    try:
        st.wait_active(set(st.want), HTTP_SD_SEC + PROMETHEUS_SYNC_SEC + 2,
                       'Prometheus has every target active')
        body(st)
    except AssertionError:
        print('# prometheus log:\n# ' + st.prom.log().replace('\n', '\n# '), flush=True)
        raise
    finally:
        st.stop()


def unsuccessful_refreshes(sd):
    return sum(v for k, v in sd.metrics().items()
               if k.startswith('cloudmap_sd_refreshes_total{') and 'result="success"' not in k)


def check_target(address, target, want_discovered, want_labels):
    discovered = target['discoveredLabels']
    # Ours: the address, the path and every __meta_cloudmap_* label, exactly.
    ours = {k: v for k, v in discovered.items()
            if k.startswith('__meta_cloudmap_') or k in ('__address__', '__metrics_path__')}
    assert ours == want_discovered, \
        f'{address}: discovered {json.dumps(ours, indent=1)}, want ' \
        f'{json.dumps(want_discovered, indent=1)}'
    assert target['labels'] == want_labels, \
        f'{address}: labels {target["labels"]}, want {want_labels}'


# ---- the cases ----

def case_prometheus_sees_every_target_with_its_labels(fake):
    def body(st):
        active = st.prom.active()
        for address, (discovered, labels) in st.want.items():
            check_target(address, active[address], discovered, labels)
        self_address = f'127.0.0.1:{st.sd_port}'
        wait_for(lambda: st.prom.active()[self_address]['health'] == 'up', 10,
                 'cloudmap-sd\'s own /metrics is scraped and up')
        wait_for(lambda: st.prom.api('query', query='up{service="self",cluster="local",'
                                     'namespace="ecs-services"} == 1')['result'], 10,
                 'the relabeled series up{service="self"} is stored')
    on_stage(fake, body)


def case_deregistered_instances_are_dropped(fake):
    def body(st):
        for svc_name, ns_name, inst in (('web', 'ecs-services', 'i-w2'),
                                        ('api', 'platform', 'i-a1')):
            fake.admin('instances/deregister', {'NamespaceName': ns_name,
                                                'ServiceName': svc_name, 'InstanceId': inst})
        start = time.monotonic()
        left = {f'127.0.0.1:{st.sd_port}', '192.0.2.1:9100'}
        wait_for(lambda: st.served() == left, 2 * SD_INTERVAL_SEC + 0.5,
                 'cloudmap-sd drops them within two of its refresh intervals')
        st.wait_active(left, DROP_SEC, 'Prometheus drops them')
        print(f'# dropped by Prometheus {time.monotonic() - start:.1f} s after the '
              f'deregistration', flush=True)
    on_stage(fake, body)


def case_prometheus_keeps_every_target_during_an_outage(fake):
    def body(st):
        everything = set(st.want)
        before = unsuccessful_refreshes(st.sd)
        fake.fault(operation='*', kind='error', status=503, code='ServiceUnavailable')
        start, seen_503 = time.monotonic(), False
        while time.monotonic() - start < OUTAGE_SEC:
            active = set(st.prom.active())
            assert active == everything, \
                f'{time.monotonic() - start:.1f} s into the outage Prometheus has ' \
                f'{sorted(active)}, want {sorted(everything)}'
            seen_503 = seen_503 or st.sd.get('/targets')[0] == 503
            time.sleep(0.2)  # the poll interval
        assert unsuccessful_refreshes(st.sd) >= before + 3, \
            'the outage did not span several refreshes'
        assert seen_503, 'cloudmap-sd never answered 503: the outage did not reach ' \
            '--refresh.max-staleness'
        fake.clear_faults()
        wait_for(lambda: st.served() == everything, 3 * SD_INTERVAL_SEC,
                 'cloudmap-sd recovers')
        assert set(st.prom.active()) == everything
    on_stage(fake, body)


CASES = [
    case_prometheus_sees_every_target_with_its_labels,
    case_deregistered_instances_are_dropped,
    case_prometheus_keeps_every_target_during_an_outage,
]


def check_no_rejections(fake):
    rejected = fake.rejections()
    assert rejected == [], f'the fake rejected requests AWS would refuse: {rejected[:3]}'


def main():
    fake = Fake()
    try:
        return run_cases(CASES, fake, after_case=check_no_rejections)
    finally:
        fake.stop()


if __name__ == '__main__':
    sys.exit(main())
