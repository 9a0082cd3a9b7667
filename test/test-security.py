#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-security: what cloudmap-sd promises about TLS, secrets and access
(suite 'integration').

  - TLS verification of the AWS endpoints is always on. The AWS fake serves
    HTTPS with a throwaway CA (test/daemon/harness.py make_tls, as
    test/fake/run-with-fakes.py --tls does): without AWS_CA_BUNDLE (this
    machine sets one globally: the daemon gets an environment without it),
    or with AWS_CA_BUNDLE naming the system's CAs, every call fails before
    any HTTP request reaches the fake and /targets stays 503; with
    AWS_CA_BUNDLE naming the fake's CA it works; a certificate from that CA
    for another host name is refused too.
  - Secrets never appear in the log (debug level), /metrics, the status
    page (/ and /api/v1/status), /targets, the file_sd file or an error
    string: runs with distinctive secrets from each credential source
    (environment with a session token, the ECS container endpoint, web
    identity through STS, and the --web.auth-token-file token), through a
    wrong secret (InvalidSignatureException), expired credentials, faults
    on every call and on the credential endpoints, capture every output
    again and again, and find no 8-character piece of any secret in them.
  - The endpoints need the token when --web.auth-token-file is set: 401
    with a Bearer challenge on every path but /-/healthy (also unknown
    paths, HEAD, query strings), for no, wrong, truncated, extended or
    basic credentials; the right token passes. That the comparison is
    constant-time is unit-tested by test/test-auth.c (CRYPTO_memcmp).
The image's non-root user is checked by test/deploy/check-dockerfile.py.
Waits poll with deadlines. Prints TAP.

  test-security.py [CLOUDMAP_SD_BINARY]    (or the variable of that name)
"""

import os
import secrets
import string
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'daemon'))

from harness import Daemon, Fake, run_cases, wait_for  # noqa: E402

FAST = ('--refresh.interval=1s', '--refresh.full-interval=2s', '--refresh.max-staleness=5m')
SYSTEM_CA = '/etc/ssl/certs/ca-certificates.crt'
PIECE = 8  # no substring of a secret this long may show
ECS_PATH = '/v2/credentials/fake'
CREDS_TTL = 12  # seconds the ECS and STS credentials live
PATHS = ['/targets', '/prometheus-targets', '/metrics', '/', '/api/v1/status', '/-/ready']
STATE = {'namespaces': [{'Name': 'prod', 'Type': 'HTTP', 'services': [
    {'Name': 'web', 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': [
        {'Id': 'i-1', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.1'}}]}]}]}

fakes = {}  # 'plain': the fake over HTTP, for the cases that are not about TLS


def refresh_failures(d):
    return sum(d.refreshes(k, 'failure') for k in ('full', 'light'))


def network_errors(d):
    return sum(v for k, v in d.metrics().items()
               if k.startswith('cloudmap_sd_aws_requests_total{')
               and 'outcome="network_error"' in k)


# ---- TLS ----

def refused(fake, env, what):
    """cloudmap-sd with env added: its calls fail, none reaches the fake."""
    fake.load(STATE)
    d = Daemon(fake, *FAST, env=env)
    wait_for(lambda: refresh_failures(d) >= 2, 30, f'{what}: two refreshes fail')
    status, body = d.targets()
    assert status == 503, f'{what}: /targets answered {status} with {body}'
    assert d.get('/-/ready')[0] == 503, f'{what}: /-/ready is 200'
    assert network_errors(d) >= 2, f'{what}: the calls did not fail in the transport'
    calls = fake.admin('calls')
    assert calls == {}, f'{what}: calls reached the fake over an unverified TLS: {calls}'
    failed = [line for line in d.text().splitlines() if 'refresh failed' in line]
    assert failed and 'ListNamespaces' in failed[0], f'{what}: no failure logged'
    print(f'# {what}: {failed[0].split("err=", 1)[-1]}')


def case_tls_refused_without_aws_ca_bundle(fake):
    # Harness environments have no AWS_*; the machine's other CA settings
    # (SSL_CERT_FILE, CURL_CA_BUNDLE) name the system's CAs.
    assert 'AWS_CA_BUNDLE' not in fake.env(), 'AWS_CA_BUNDLE leaks into the environment'
    refused(fake, {}, 'no AWS_CA_BUNDLE')


def case_tls_refused_with_the_system_cas(fake):
    refused(fake, {'AWS_CA_BUNDLE': SYSTEM_CA}, 'AWS_CA_BUNDLE names the system CAs')


def case_tls_accepted_with_aws_ca_bundle_naming_its_ca(fake):
    fake.load(STATE)
    d = Daemon(fake, *FAST, env={'AWS_CA_BUNDLE': fake.ca_bundle})
    targets = d.wait_targets()
    assert [t['targets'] for t in targets] == [['10.0.0.1:80']], targets
    assert fake.admin('calls').get('ListNamespaces', {}).get('accepted', 0) >= 1
    assert fake.rejections() == []


def case_tls_host_name_checked(fake):
    # A certificate from a trusted CA, for another name: refused.
    other = Fake(tls_names='DNS:elsewhere.example')
    try:
        other.reset()
        refused(other, {'AWS_CA_BUNDLE': other.ca_bundle}, 'a certificate for another host')
    finally:
        other.stop()


# ---- secrets ----

def distinctive(prefix, n, alphabet=string.ascii_letters + string.digits):
    return prefix + ''.join(secrets.choice(alphabet) for _ in range(n))


def pieces(secret):
    return {secret[i:i + PIECE] for i in range(len(secret) - PIECE + 1)}


def leaks(text, secret_values):
    """The secrets (by index) of which some piece shows in text."""
    return [i for i, s in enumerate(secret_values) if any(p in text for p in pieces(s))]


class Outputs:
    """Every output of the daemons of a case: their logs, and each
    endpoint's body captured at several moments, with its name."""

    def __init__(self, token):
        self.token = token
        self.captured = []
        self.daemons = []

    def watch(self, d, file_sd=None):
        self.daemons.append((d, file_sd))
        return d

    def capture(self, moment):
        headers = {'Authorization': f'Bearer {self.token}'}
        for i, (d, file_sd) in enumerate(self.daemons):
            for path in PATHS + ['/no/such/path', '/targets?shard=0&shards=2']:
                status, hdrs, body = d.get(path, headers=headers)
                self.captured.append((f'{moment}: daemon {i} GET {path} ({status})',
                                      body.decode(errors='replace') + repr(hdrs)))
            for path, method, h in (('/targets', 'POST', headers), ('/targets', 'GET', {})):
                status, hdrs, body = d.get(path, method=method, headers=h)
                self.captured.append((f'{moment}: daemon {i} {method} {path} ({status})',
                                      body.decode(errors='replace') + repr(hdrs)))
            if file_sd and os.path.exists(file_sd):
                with open(file_sd) as f:
                    self.captured.append((f'{moment}: daemon {i} file_sd', f.read()))

    def all(self):
        out = list(self.captured)
        for i, (d, _) in enumerate(self.daemons):
            out.append((f'daemon {i} log', d.text()))
        return out


def secrets_run(plain, out, token_file, tmp):
    """Three daemons, one per credential source, through a wrong secret,
    faults on every call, credential endpoints down and expired
    credentials; captures their outputs at each step. Returns the secrets
    they handled."""
    env_secret, env_token = distinctive('sEcReT', 40), distinctive('ToKeN', 300)
    key = 'ASIASECRETSTEST00001'
    webid_token = distinctive('eyJwebid', 200, string.ascii_letters + string.digits + '-_.')
    webid_file = os.path.join(tmp, 'web-identity-token')
    with open(webid_file, 'w') as f:
        f.write(webid_token)
    # Short-lived: renewed every 5 s, and lapsing while their endpoint is down.
    plain.admin('sts/web-identity', {'token': webid_token, 'credentials_ttl_sec': CREDS_TTL})
    plain.admin('ecs', {'credentials_ttl_sec': CREDS_TTL})
    # A wrong secret first: every call answers InvalidSignatureException.
    plain.admin('credentials', {'access_key_id': key, 'secret_access_key': env_secret[::-1],
                                'session_token': env_token})
    web_token = out.token
    flags = (*FAST, f'--web.auth-token-file={token_file}')
    headers = {'Authorization': f'Bearer {web_token}'}
    no_keys = {'AWS_ACCESS_KEY_ID': None, 'AWS_SECRET_ACCESS_KEY': None}
    daemons = [
        Daemon(plain, *flags, f'--file-sd.path={tmp}/env.json', headers=headers,
               env={'AWS_ACCESS_KEY_ID': key, 'AWS_SECRET_ACCESS_KEY': env_secret,
                    'AWS_SESSION_TOKEN': env_token}),
        Daemon(plain, *flags, headers=headers, env=dict(
            no_keys, AWS_CONTAINER_CREDENTIALS_FULL_URI=plain.info['ecs'] + ECS_PATH)),
        Daemon(plain, *flags, headers=headers, env=dict(
            no_keys, AWS_ROLE_ARN='arn:aws:iam::123456789012:role/cloudmap-sd',
            AWS_WEB_IDENTITY_TOKEN_FILE=webid_file)),
    ]
    for i, d in enumerate(daemons):
        out.watch(d, f'{tmp}/env.json' if i == 0 else None)
    d = daemons[0]
    wait_for(lambda: refresh_failures(d) >= 2, 20, 'refreshes fail with the wrong secret')
    assert 'InvalidSignatureException' in d.text(), 'the signature error is not logged'
    out.capture('wrong secret')
    plain.admin('credentials', {'access_key_id': key, 'secret_access_key': env_secret,
                                'session_token': env_token})
    for x in daemons:
        x.wait_targets(timeout=20)
    out.capture('working')
    faulted_run(plain, daemons, out)
    # Expired: the environment's session credential, as AWS would say.
    plain.admin('credentials', {'access_key_id': key, 'secret_access_key': env_secret,
                                'session_token': env_token, 'expires_at_unix': 1})
    wait_for(lambda: 'ExpiredTokenException' in d.text(), 20, 'the expiry is logged')
    out.capture('expired')
    issued = [c for c in plain.admin('credentials') if c['source'] in ('ecs', 'sts')]
    assert {c['source'] for c in issued} == {'ecs', 'sts'}, 'ECS or STS issued nothing'
    values = [env_secret, env_token, webid_token, web_token]
    for c in issued:
        values += [c['secret_access_key'], c['session_token']]
    return values


def faulted_run(plain, daemons, out):
    """Faults on every AWS call, then on the credential endpoints until
    the credentials they gave lapse."""
    for spec in ({'kind': 'error', 'status': 400, 'code': 'ThrottlingException'},
                 {'kind': 'malformed'}, {'kind': 'truncate'},
                 {'kind': 'error', 'status': 403, 'code': 'AccessDeniedException',
                  'message': 'User is not authorized to perform this action'}):
        before = [refresh_failures(x) for x in daemons]
        plain.fault(operation='*', **spec)
        wait_for(lambda: all(refresh_failures(x) > b for x, b in zip(daemons, before)), 30,
                 f'every daemon fails a refresh under {spec["kind"]}')
        out.capture(f'fault {spec["kind"]}')
        plain.clear_faults()
    plain.fault(operation='EcsCredentials', kind='malformed')
    plain.fault(operation='AssumeRoleWithWebIdentity', kind='truncate')
    for d in daemons[1:]:
        wait_for(lambda: 'CredentialsError' in d.text(), CREDS_TTL + 10,
                 'the lapsed credentials are logged')
    out.capture('credential endpoints down')
    good = [x.refreshes('light') + x.refreshes('full') for x in daemons]
    plain.clear_faults()
    for d, n in zip(daemons, good):
        wait_for(lambda: d.refreshes('light') + d.refreshes('full') > n, 20, 'recovery')


def case_secrets_never_in_any_output(fake):
    plain = fakes['plain']
    plain.reset()
    plain.load(STATE)
    with tempfile.TemporaryDirectory(prefix='security-') as tmp:
        web_token = distinctive('wEbToKeN', 40)
        token_file = os.path.join(tmp, 'token')
        with open(token_file, 'w') as f:
            f.write(web_token + '\n')
        out = Outputs(web_token)
        values = secrets_run(plain, out, token_file, tmp)
        outputs = out.all()
    # The check has teeth: a planted piece is found.
    assert leaks('x' + values[0][3:3 + PIECE] + 'y', values) == [0]
    total = sum(len(text) for _, text in outputs)
    # ... and it searched what a leak would show in: the errors, as the log
    # and the status page give them.
    assert total > 10000, f'only {total} characters captured'
    for where in ('log', 'GET /api/v1/status', 'GET / '):
        assert any('InvalidSignatureException' in t for n, t in outputs if where in n), \
            f'the signature error is not in any {where} captured'
    assert any('CredentialsError' in t for n, t in outputs if 'GET /api/v1/status' in n), \
        'no credential error on the status page captured'
    found = [(name, leaks(text, values)) for name, text in outputs if leaks(text, values)]
    print(f'# {len(values)} secrets, {len(outputs)} outputs, {total} characters searched')
    assert not found, f'secrets (by index) show in: {found[:5]}'
    plain.admin('requests/clear', {})  # the wrong secret and expiry were meant


# ---- endpoint auth ----

def case_every_endpoint_but_healthy_needs_the_token(fake):
    plain = fakes['plain']
    plain.reset()
    plain.load(STATE)
    token = distinctive('tOkEn', 30)
    with tempfile.TemporaryDirectory(prefix='security-') as tmp:
        token_file = os.path.join(tmp, 'token')
        with open(token_file, 'w') as f:
            f.write(token + '\n')
        d = Daemon(plain, *FAST, f'--web.auth-token-file={token_file}')
        good = {'Authorization': f'Bearer {token}'}
        wait_for(lambda: d.get('/targets', headers=good)[0] == 200, 10, 'targets with the token')
        bad = [{}, {'Authorization': 'Bearer wrong'}, {'Authorization': f'Bearer {token[:-1]}'},
               {'Authorization': f'Bearer {token}x'}, {'Authorization': f'bearer  {token} x'},
               {'Authorization': f'Basic {token}'}, {'Authorization': token}]
        paths = PATHS + ['/no/such/path', '/targets?shard=0&shards=2', f'/targets?token={token}']
        for path in paths:
            for method in ('GET', 'HEAD'):
                for headers in bad:
                    status, hdrs, _ = d.get(path, method=method, headers=headers)
                    assert status == 401, f'{method} {path} with {headers}: {status}'
                    assert hdrs.get('www-authenticate', '').startswith('Bearer'), hdrs
                status, _, _ = d.get(path, method=method, headers=good)
                assert status != 401, f'{method} {path} with the token: {status}'
        for headers in bad:
            assert d.get('/-/healthy', headers=headers)[0] == 200, '/-/healthy needs auth'
        assert plain.rejections() == []


CASES = [
    case_tls_refused_without_aws_ca_bundle,
    case_tls_refused_with_the_system_cas,
    case_tls_accepted_with_aws_ca_bundle_naming_its_ca,
    case_tls_host_name_checked,
    case_secrets_never_in_any_output,
    case_every_endpoint_but_healthy_needs_the_token,
]


def main():
    tls = Fake(tls_names='IP:127.0.0.1,DNS:localhost')
    try:
        fakes['plain'] = Fake()
        return run_cases(CASES, tls, after_case=lambda f: None)
    finally:
        tls.stop()
        if 'plain' in fakes:
            fakes['plain'].stop()


if __name__ == '__main__':
    sys.exit(main())
