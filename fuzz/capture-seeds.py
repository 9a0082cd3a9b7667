#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures real answers of the local AWS fakes (test/fake) as fuzz seeds.

Run beside the fakes, from the repository root:

    test/fake/run-with-fakes.py -- python3 fuzz/capture-seeds.py

It loads a small Cloud Map, makes the calls the daemon makes with botocore
(which signs them as the fake checks) and writes each raw answer, prefixed
as the target wants it, into fuzz/corpus/<target>/fake-<what>. Error
answers are made with the fake's fault knobs. Rerun it when the fake's
answers change; the hand-written seeds beside these stay.
"""

import json
import os
import sys
import urllib.request

import botocore.session
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
ADMIN = os.environ['FAKE_ADMIN_URL']

STATE = {
    'namespaces': [
        {'Name': 'prod', 'Type': 'HTTP', 'Tags': {'team': 'obs'}, 'services': [
            {'Name': 'api', 'Tags': {'prometheus.io/scrape': 'true', 'port': '9100'},
             'instances': [
                 {'Id': 'i-1', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.1',
                                              'AWS_INSTANCE_PORT': '9100'}},
                 {'Id': 'i-2', 'HealthStatus': 'UNHEALTHY',
                  'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.2',
                                 'AWS_INSTANCE_PORT': '9100', 'metrics_path': '/m'}}]},
            {'Name': 'web', 'HealthCheckCustomConfig': None, 'instances': [
                {'Id': 'w-1', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.1.1'}}]}]},
        {'Name': 'dns.example', 'Type': 'DNS_PRIVATE', 'HttpName': 'dns-example-1a2b',
         'services': []},
    ],
    'ssm_parameters': [
        {'Name': '/cloudmap-sd/namespaces', 'Value': 'prod, dns.example', 'Type': 'String'},
    ],
}


def admin(path, body):
    req = urllib.request.Request(f'{ADMIN}/{path}', data=json.dumps(body).encode(),
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


class Recorder:
    """Keeps the raw body and headers of the last answer botocore received."""

    def __init__(self):
        self.body = b''
        self.headers = {}

    def __call__(self, http_response, **kwargs):
        self.body = http_response.content
        self.headers = http_response.headers  # case-insensitive
        self.status = http_response.status_code

    def raw_headers(self):
        lines = [f'HTTP/1.1 {self.status}\r\n']
        lines += [f'{k}: {v}\r\n' for k, v in self.headers.items()]
        return ''.join(lines + ['\r\n']).encode()


def client(service, recorder):
    session = botocore.session.get_session()
    c = session.create_client(service, region_name=os.environ.get('AWS_REGION', 'us-east-1'),
                              endpoint_url=os.environ['AWS_ENDPOINT_URL'],
                              config=Config(inject_host_prefix=False,
                                            retries={'total_max_attempts': 1}))
    c.meta.events.register('after-call', lambda **kw: recorder(**kw))
    return c


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, 'fake-' + name), 'wb') as f:
        f.write(data)


def call(c, rec, op, **kwargs):
    try:
        getattr(c, op)(**kwargs)
    except c.exceptions.ClientError:
        pass
    return rec.body


def capture_cloudmap():
    rec = Recorder()
    sd, ssm = client('servicediscovery', rec), client('ssm', rec)
    write('cloudmap', 'list-namespaces', b'0' + call(sd, rec, 'list_namespaces'))
    ns = json.loads(rec.body)['Namespaces']
    prod = next(n for n in ns if n['Name'] == 'prod')
    write('cloudmap', 'list-services', b'1' + call(
        sd, rec, 'list_services',
        Filters=[{'Name': 'NAMESPACE_ID', 'Values': [prod['Id']], 'Condition': 'EQ'}]))
    api = next(s for s in json.loads(rec.body)['Services'] if s['Name'] == 'api')
    write('cloudmap', 'list-tags', b'2' + call(sd, rec, 'list_tags_for_resource',
                                               ResourceARN=api['Arn']))
    write('cloudmap', 'discover-instances', b'3' + call(
        sd, rec, 'discover_instances', NamespaceName='prod', ServiceName='api',
        HealthStatus='ALL'))
    write('cloudmap', 'discover-revision', b'4' + call(
        sd, rec, 'discover_instances_revision', NamespaceName='prod', ServiceName='api'))
    write('cloudmap', 'get-parameter', b'5' + call(ssm, rec, 'get_parameter',
                                                  Name='/cloudmap-sd/namespaces'))
    write('cloudmap', 'name-list', b'6' + json.loads(rec.body)['Parameter']['Value'].encode())
    return sd, ssm, rec


def capture_errors(sd, ssm, rec):
    call(ssm, rec, 'get_parameter', Name='/no/such/parameter')
    write('awserror', 'parameter-not-found',
          rec.headers.get('x-amzn-ErrorType', '').encode() + b'\n' + rec.body)
    write('httpheader', 'error-type', b'@X-Amzn-ErrorType\n' + rec.raw_headers())
    write('httpheader', 'request-id', b'\x10x-amzn-requestid\n' + rec.raw_headers())
    admin('config', {'error_type_prefix': 'com.amazonaws.servicediscovery#'})
    admin('faults', {'operation': 'ListNamespaces', 'kind': 'error', 'status': 400,
                     'code': 'ThrottlingException', 'message': 'Rate exceeded', 'count': 1})
    write('awserror', 'throttling-prefixed', call(sd, rec, 'list_namespaces'))
    admin('config', {'error_type_prefix': ''})
    call(sd, rec, 'get_service', Id='srv-nothere')
    write('awserror', 'service-not-found',
          rec.headers.get('x-amzn-ErrorType', '').encode() + b'\n' + rec.body)


def capture_sts():
    rec = Recorder()
    sts = client('sts', rec)
    kwargs = dict(RoleArn='arn:aws:iam::123456789012:role/fuzz', RoleSessionName='fuzz',
                  WebIdentityToken='fake-web-identity-token')
    write('sts', 'assume-role', b'0' + call(sts, rec, 'assume_role_with_web_identity', **kwargs))
    kwargs['WebIdentityToken'] = 'wrong'
    write('sts', 'invalid-token', b'1' + call(sts, rec, 'assume_role_with_web_identity',
                                              **kwargs))


def capture_creds():
    for name, url, headers in (
            ('ecs', os.environ['FAKE_ECS_URL'] + '/v2/credentials/fake', {}),
            ('imds', os.environ['FAKE_IMDS_URL'] +
             '/latest/meta-data/iam/security-credentials/', None)):
        if headers is None:
            tok = urllib.request.Request(os.environ['FAKE_IMDS_URL'] + '/latest/api/token',
                                         method='PUT',
                                         headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'})
            with urllib.request.urlopen(tok) as r:
                headers = {'X-aws-ec2-metadata-token': r.read().decode()}
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
                url += r.read().decode().splitlines()[0]
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            write('credsjson', name, r.read())


def main():
    admin('reset', {})
    admin('state', STATE)
    sd, ssm, rec = capture_cloudmap()
    capture_errors(sd, ssm, rec)
    capture_sts()
    capture_creds()
    rejections = json.load(urllib.request.urlopen(f'{ADMIN}/rejections'))
    if rejections:
        print('the fake rejected a request:', rejections, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
