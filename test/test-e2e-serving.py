#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-e2e-serving: the serving options end to end (suite 'e2e'): sharding,
filters, gzip and auth, with the real Prometheus (/usr/bin/prometheus).

The AWS fake holds 24 instances in two namespaces; cloudmap-sd serves them;
Debian's prometheus runs on a free loopback port with a generated config of
several http_sd jobs on cloudmap-sd (refresh 1s). Targets are unroutable
documentation addresses (192.0.2.0/24): "down", which is fine, only their
discovery matters. Checked:
  - sharding: for each i of 3, Prometheus's own hashmod relabeling of the
    full list (action hashmod, modulus 3, keep i) and cloudmap-sd's
    ?shard=i&shards=3 give the same targets, which are the ones hashmod
    computed here with hashlib puts in shard i: disjoint, complete;
  - a filter job (?namespace=&service=&service=) gets exactly its targets;
  - the refresh interval Prometheus announces is recorded in
    cloudmap_sd_client_refresh_interval_seconds and warned about once;
  - gzip: full, filtered and sharded answers asked with Accept-Encoding:
    gzip come with Content-Encoding: gzip and decompress with Python's gzip
    module (which checks the CRC-32 and the length) to the same JSON as the
    identity answers. Prometheus 2.42's http_sd itself never asks for gzip
    (its HTTP client disables compression), so it is served identity; the
    test records what it sends;
  - auth: with --web.auth-token-file and --web.basic-auth-file, Prometheus's
    authorization (bearer, credentials_file), basic_auth with a bcrypt user
    and basic_auth with a SHA-256 user (password_file) discover every target;
    a wrong password and no credentials discover none, and Prometheus counts
    the failures (prometheus_sd_http_failures_total).
Prometheus batches discovery updates and syncs its scrape manager every 5 s:
a change reaches its targets API up to ~10 s after http_sd read it; the
deadlines say so. Prints TAP.

  test-e2e-serving.py [CLOUDMAP_SD_BINARY]    (or the variable)
"""

import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

import harness  # noqa: E402
from harness import (Daemon, Fake, http_request, run_cases, samples,  # noqa: E402
                     wait_for)

SHARDS = 3
SYNC_SEC = 1 + 10 + 5  # http_sd refresh + Prometheus's batching and sync, + slack
# The crypt_blowfish test vector: password "U*U".
BCRYPT_USER = 'prom:$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'
BCRYPT_PASSWORD = 'U*U'
SHA_PASSWORD = 'correct horse battery staple'
TOKEN = 's3cret-token'

PROMETHEUS_HEAD = """\
global:
  scrape_interval: 1m
  scrape_timeout: 10s
scrape_configs:
"""


def job(name, path, extra=''):
    """One scrape job with an http_sd config on cloudmap-sd's path."""
    return (f'  - job_name: {name}\n'
            f'    http_sd_configs:\n'
            f'      - url: "http://127.0.0.1:{{sd_port}}{path}"\n'
            f'        refresh_interval: 1s\n' + extra)


def hashmod_job(i):
    return job(f'hashmod-{i}', '/targets') + (
        '    relabel_configs:\n'
        '      - source_labels: [__address__]\n'
        f'        modulus: {SHARDS}\n'
        '        target_label: __tmp_hash\n'
        '        action: hashmod\n'
        '      - source_labels: [__tmp_hash]\n'
        f'        regex: "{i}"\n'
        '        action: keep\n')


# ---- the world ----

SERVICES = [  # namespace, service, instances, port
    ('alpha', 'api', 10, 9100),
    ('alpha', 'web', 8, 8080),
    ('beta', 'api', 6, 9200),
]


def state():
    namespaces, n = {}, 0
    for ns, svc, count, port in SERVICES:
        instances = []
        for k in range(count):
            n += 1
            instances.append({'Id': f'i-{ns}-{svc}-{k}',
                              'Attributes': {'AWS_INSTANCE_IPV4': f'192.0.2.{n}'}})
        namespaces.setdefault(ns, []).append(
            {'Name': svc, 'Tags': {'METRICS_PATH': '/metrics', 'METRICS_PORT': str(port)},
             'instances': instances})
    return {'namespaces': [{'Name': ns, 'Type': 'HTTP', 'services': services}
                           for ns, services in namespaces.items()]}


def addresses(where=lambda ns, svc: True):
    out, n = set(), 0
    for ns, svc, count, port in SERVICES:
        for _ in range(count):
            n += 1
            if where(ns, svc):
                out.add(f'192.0.2.{n}:{port}')
    return out


def hashmod(address, modulus):
    """Prometheus's hashmod: MD5 of the value, its last 8 bytes big-endian."""
    return int.from_bytes(hashlib.md5(address.encode()).digest()[8:], 'big') % modulus


# ---- Prometheus ----

class Prometheus(harness.Prometheus):
    def __init__(self, config):
        super().__init__(config, 'e2e-serving-prometheus-')

    def active(self):
        """job -> set of the addresses of its active targets."""
        status, _, body = http_request(self.port, '/api/v1/targets?state=active')
        assert status == 200, f'/api/v1/targets: {status}'
        out = {}
        for t in json.loads(body)['data']['activeTargets']:
            out.setdefault(t['scrapePool'], set()).add(t['discoveredLabels']['__address__'])
        return out

    def metric(self, name):
        status, _, body = http_request(self.port, '/metrics')
        assert status == 200
        return sum(v for k, v in samples(body.decode()).items()
                   if k == name or k.startswith(name + '{'))


def with_prometheus(config, body):
    """Runs body(prometheus); shows Prometheus's log on a failure."""
    prom = Prometheus(config)
    try:
        body(prom)
    except AssertionError:
        print('# prometheus log:\n# ' + prom.log().replace('\n', '\n# '), flush=True)
        raise
    finally:
        prom.stop()


# ---- gzip, from Python ----

def get(sd, path, headers=None):
    status, hdrs, body = sd.get(path, headers=headers or {})
    assert status == 200, f'GET {path}: {status} {body[:200]!r}'
    return hdrs, body


def check_gzip_answer(sd, path, auth=None):
    """The gzip answer of path decompresses (CRC and length checked) to the
    identity answer; returns the parsed list."""
    base = dict(auth or {})
    plain_headers, plain = get(sd, path, base)
    assert 'content-encoding' not in plain_headers, f'{path}: encoded without being asked'
    assert plain_headers.get('vary') == 'Accept-Encoding', plain_headers
    # A refresh serves its new targets first and compresses them right
    # after (docs/SERVING.md): gzip may lag the JSON by a moment.
    wait_for(lambda: get(sd, path, {**base, 'Accept-Encoding': 'gzip'})[0]
             .get('content-encoding') == 'gzip', 10, f'{path}: a gzip answer')
    hdrs, packed = get(sd, path, {**base, 'Accept-Encoding': 'gzip'})
    assert hdrs.get('content-encoding') == 'gzip', f'{path}: {hdrs}'
    assert hdrs.get('vary') == 'Accept-Encoding', hdrs
    assert int(hdrs['content-length']) == len(packed)
    unpacked = gzip.decompress(packed)  # raises on a bad CRC-32 or length
    assert json.loads(unpacked) == json.loads(plain), f'{path}: gzip and identity differ'
    hdrs, refused = get(sd, path, {**base, 'Accept-Encoding': 'gzip;q=0, br'})
    assert 'content-encoding' not in hdrs and refused == plain, f'{path}: gzip;q=0 not honoured'
    return json.loads(unpacked)


def served(groups):
    return {a for g in groups for a in g['targets']}


# ---- the cases ----

def case_shards_match_prometheus_hashmod_filters_and_gzip(fake):
    fake.load(state())
    sd = Daemon(fake, '--refresh.interval=30s', '--refresh.full-interval=30s',
                '--refresh.max-staleness=5m')
    everything = addresses()
    wait_for(lambda: sd.get('/targets')[0] == 200 and served(json.loads(sd.get('/targets')[2]))
             == everything, 10, 'cloudmap-sd serves every target')

    # gzip and sharding seen from Python, hashmod computed with hashlib.
    union = set()
    full = check_gzip_answer(sd, '/targets')
    assert served(full) == everything
    for i in range(SHARDS):
        shard = served(check_gzip_answer(sd, f'/targets?shard={i}&shards={SHARDS}'))
        want = {a for a in everything if hashmod(a, SHARDS) == i}
        assert shard == want, f'shard {i}: {sorted(shard)}, want {sorted(want)}'
        assert not union & shard, f'shard {i} overlaps the others'
        union |= shard
    assert union == everything
    alpha = addresses(lambda ns, svc: ns == 'alpha')
    assert served(check_gzip_answer(sd, '/prometheus-targets?namespace=alpha')) == alpha
    sizes = [sum(1 for a in everything if hashmod(a, SHARDS) == i) for i in range(SHARDS)]
    print(f'# shard sizes: {sizes}', flush=True)

    filtered = addresses(lambda ns, svc: ns == 'alpha')
    config = PROMETHEUS_HEAD + ''.join(hashmod_job(i) for i in range(SHARDS)) + ''.join(
        job(f'shard-{i}', f'/targets?shard={i}&shards={SHARDS}') for i in range(SHARDS)) + \
        job('filter', '/prometheus-targets?namespace=alpha&service=api&service=web')
    config = config.replace('{sd_port}', str(sd.port))

    def body(prom):
        def agree():
            active = prom.active()
            return all(active.get(f'hashmod-{i}') and
                       active.get(f'hashmod-{i}') == active.get(f'shard-{i}')
                       for i in range(SHARDS)) and active.get('filter') == filtered
        wait_for(agree, SYNC_SEC, 'Prometheus\'s hashmod jobs and the ?shard= jobs agree')
        active = prom.active()
        for i in range(SHARDS):
            want = {a for a in everything if hashmod(a, SHARDS) == i}
            assert active[f'shard-{i}'] == want, f'shard-{i}: {sorted(active[f"shard-{i}"])}'
        metrics = sd.metrics()
        assert metrics.get('cloudmap_sd_client_refresh_interval_seconds') == 1.0, metrics.get(
            'cloudmap_sd_client_refresh_interval_seconds')
        warnings = sd.text().count('much more often than cloudmap-sd refreshes')
        assert warnings == 1, f'{warnings} warnings about the client interval, want 1'
    with_prometheus(config, body)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def case_prometheus_auth(fake):
    fake.load(state())
    tmp = tempfile.mkdtemp(prefix='e2e-serving-auth-')
    try:
        token = write(os.path.join(tmp, 'token'), TOKEN + '\n')
        sha = hashlib.sha256(SHA_PASSWORD.encode()).hexdigest()
        users = write(os.path.join(tmp, 'users'),
                      f'# cloudmap-sd users\n{BCRYPT_USER}\nops:sha256:{sha}\n')
        password = write(os.path.join(tmp, 'password'), SHA_PASSWORD)
        sd = Daemon(fake, '--refresh.interval=1s', f'--web.auth-token-file={token}',
                    f'--web.basic-auth-file={users}')
        everything = addresses()
        bearer = {'Authorization': f'Bearer {TOKEN}'}
        wait_for(lambda: sd.get('/targets', headers=bearer)[0] == 200, 10,
                 'cloudmap-sd serves the targets')
        assert sd.get('/targets')[0] == 401
        assert sd.get('/metrics')[0] == 401
        assert sd.get('/-/healthy')[0] == 200
        assert served(check_gzip_answer(sd, '/targets?service=web', bearer)) == \
            addresses(lambda ns, svc: svc == 'web')
        config = PROMETHEUS_HEAD + \
            job('bearer', '/targets',
                '        authorization:\n'
                '          type: Bearer\n'
                f'          credentials_file: {token}\n') + \
            job('basic-bcrypt', '/targets',
                '        basic_auth:\n'
                '          username: prom\n'
                f'          password: "{BCRYPT_PASSWORD}"\n') + \
            job('basic-sha256', '/prometheus-targets',
                '        basic_auth:\n'
                '          username: ops\n'
                f'          password_file: {password}\n') + \
            job('wrong-password', '/targets',
                '        basic_auth:\n'
                '          username: prom\n'
                '          password: "U*V"\n') + \
            job('no-credentials', '/targets')
        config = config.replace('{sd_port}', str(sd.port))

        def body(prom):
            def discovered():
                active = prom.active()
                return all(active.get(j) == everything
                           for j in ('bearer', 'basic-bcrypt', 'basic-sha256'))
            wait_for(discovered, SYNC_SEC, 'the jobs with good credentials discover every target')
            wait_for(lambda: prom.metric('prometheus_sd_http_failures_total') >= 2, 5,
                     'Prometheus counts the refused http_sd refreshes')
            active = prom.active()
            assert not active.get('wrong-password') and not active.get('no-credentials'), \
                f'targets discovered without valid credentials: {active}'
            refused = sd.get('/metrics', headers=bearer)[2].decode()
            assert 'cloudmap_sd_http_requests_total{handler="targets",code="401"}' in refused
        with_prometheus(config, body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CASES = [
    case_shards_match_prometheus_hashmod_filters_and_gzip,
    case_prometheus_auth,
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
