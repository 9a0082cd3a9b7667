#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of the local AWS fakes (test/fake), with botocore as the client.

It shows that the requests botocore really sends are accepted, that the same
requests tampered with are rejected (and logged as rejections), and that
the faults, the IMDS and ECS fakes, the admin API and run-with-fakes.py do
what README.md says. One fake process serves every case; the admin API
resets it before each. Prints TAP.
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_DIR = os.path.join(HERE, 'fake')

# Keep the user's own AWS configuration out of botocore.
os.environ['AWS_CONFIG_FILE'] = os.path.join(tempfile.gettempdir(), 'no-such-aws-config')
os.environ['AWS_SHARED_CREDENTIALS_FILE'] = os.environ['AWS_CONFIG_FILE']
for _name in ('AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_CA_BUNDLE'):
    os.environ.pop(_name, None)

import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = 'us-east-1'
SD_TARGET = 'Route53AutoNaming_v20170314'
JSON_TYPE = 'application/x-amz-json-1.1'
STS_NS = '{https://sts.amazonaws.com/doc/2011-06-15/}'
READY_TIMEOUT_SEC = 20


class Failure(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def expect_eq(got, want, what):
    if got != want:
        raise Failure(f'{what}: got {got!r}, want {want!r}')


# The fake under test.

class FakeProcess:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='test-fake-')
        ready = os.path.join(self.tmp, 'ready.json')
        self.proc = subprocess.Popen([sys.executable, os.path.join(FAKE_DIR, 'fakeaws.py'),
                                      'serve', '--exit-with-parent', '--ready-file', ready])
        deadline = time.monotonic() + READY_TIMEOUT_SEC
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the fake did not start')
            time.sleep(0.02)
        with open(ready) as f:
            self.info = json.load(f)
        self.aws = urllib.parse.urlsplit(self.info['aws'])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def admin(self, path, body=None, expect_status=200):
        status, data = http_call(self.info['admin'] + path,
                                 'GET' if body is None else 'POST',
                                 None if body is None else json.dumps(body).encode())
        expect_eq(status, expect_status, f'admin {path} status ({data[:200]!r})')
        return json.loads(data)


FAKE = None
SESSION = botocore.session.get_session()


def http_call(url, method='GET', body=None, headers=None, timeout=5):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (('?' + parts.query) if parts.query else '')
        conn.request(method, target or '/', body, headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def default_creds():
    return botocore.credentials.Credentials(FAKE.info['access_key_id'],
                                            FAKE.info['secret_access_key'])


def client(service, creds=None, validate=True):
    creds = creds or default_creds()
    config = Config(inject_host_prefix=False, parameter_validation=validate,
                    retries={'total_max_attempts': 1, 'mode': 'standard'})
    return SESSION.create_client(service, region_name=REGION, endpoint_url=FAKE.info['aws'],
                                 aws_access_key_id=creds.access_key,
                                 aws_secret_access_key=creds.secret_key,
                                 aws_session_token=creds.token, config=config)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']
    raise Failure(f'{call.__name__} succeeded; an error was expected')


def rejections():
    return FAKE.admin('/rejections')


def expect_no_rejections():
    rej = rejections()
    expect(not rej, f'unexpected rejections: {json.dumps(rej, indent=1)[:2000]}')


def expect_rejected(codes):
    """The rejections since the last check have exactly these codes."""
    got = [r['error'] for r in rejections()]
    expect_eq(got, codes, 'rejections')
    FAKE.admin('/requests/clear', {})


# Requests signed by botocore's own signer, sent raw so tests can tamper.

class FixedTimeSigV4(botocore.auth.SigV4Auth):
    def __init__(self, creds, service, region, timestamp):
        super().__init__(creds, service, region)
        self.timestamp = timestamp

    def add_auth(self, request):
        request.context['timestamp'] = self.timestamp
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def amz_now(offset_sec=0):
    return time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(time.time() + offset_sec))


def sign(headers, body, service='servicediscovery', creds=None, region=REGION, offset_sec=0):
    """Returns the headers (a dict) of a request signed by botocore."""
    host = f'{FAKE.aws.hostname}:{FAKE.aws.port}'
    req = botocore.awsrequest.AWSRequest(method='POST', url=f'http://{host}/', data=body,
                                         headers=dict(headers, Host=host))
    FixedTimeSigV4(creds or default_creds(), service, region, amz_now(offset_sec)).add_auth(req)
    return dict(req.headers.items())


def json_headers(op, prefix=SD_TARGET):
    return {'Content-Type': JSON_TYPE, 'X-Amz-Target': f'{prefix}.{op}'}


def send(headers, body, timeout=5):
    return http_call(FAKE.info['aws'] + '/', 'POST', body, headers, timeout)


def signed_json(op, params, timeout=5, **sign_args):
    body = json.dumps(params).encode()
    return send(sign(json_headers(op), body, **sign_args), body, timeout)


def json_error(data):
    return json.loads(data)['__type']


def load_state(namespaces, params=()):
    FAKE.admin('/state', {'namespaces': namespaces, 'ssm_parameters': list(params)})


def instance(i, health='HEALTHY', **attrs):
    base = {'AWS_INSTANCE_IPV4': f'10.0.{i // 250}.{i % 250 + 1}', 'AWS_INSTANCE_PORT': '9100'}
    return {'Id': f'i-{i:04d}', 'Attributes': dict(base, **attrs), 'HealthStatus': health}


def one_service(instances, ns='prod', srv='api'):
    load_state([{'Name': ns, 'services': [{'Name': srv, 'instances': instances}]}])


# Accepted: what botocore really sends.

def test_list_namespaces_pages_and_filters():
    load_state([{'Name': f'ns{i}', 'Type': 'DNS_PRIVATE' if i == 4 else 'HTTP'}
                for i in range(5)])
    FAKE.admin('/pages', {'operation': 'ListNamespaces', 'page_size': 2})
    sd = client('servicediscovery')
    pages = list(sd.get_paginator('list_namespaces').paginate())
    expect_eq([len(p['Namespaces']) for p in pages], [2, 2, 1], 'page sizes')
    names = [n['Name'] for p in pages for n in p['Namespaces']]
    expect_eq(names, [f'ns{i}' for i in range(5)], 'names')
    raw = json.loads(signed_json('ListNamespaces', {'MaxResults': 1})[1])['Namespaces'][0]
    expect_eq(raw['ResourceOwner'], '123456789012', 'ResourceOwner (older botocore drops it)')
    http_only = sd.list_namespaces(Filters=[{'Name': 'TYPE', 'Values': ['HTTP'],
                                             'Condition': 'EQ'}])
    expect_eq(len(http_only['Namespaces']), 2, 'TYPE EQ HTTP, first page')
    prefix = sd.list_namespaces(Filters=[{'Name': 'NAME', 'Values': ['ns4'],
                                          'Condition': 'BEGINS_WITH'}])
    expect_eq([n['Type'] for n in prefix['Namespaces']], ['DNS_PRIVATE'], 'BEGINS_WITH')
    calls = FAKE.admin('/calls')['ListNamespaces']
    expect_eq((calls['total'], calls['accepted']), (6, 6), 'ListNamespaces counters')
    expect_no_rejections()


def test_list_services_empty_pages_carry_a_token():
    load_state([{'Name': 'a', 'services': [{'Name': 's1'}, {'Name': 's2'}]},
                {'Name': 'b', 'services': [{'Name': 's3'}]}])
    ns_a = FAKE.admin('/state')['namespaces'][0]['Id']
    FAKE.admin('/pages', {'operation': 'ListServices', 'page_size': 1, 'empty_pages': 2})
    sd = client('servicediscovery')
    flt = [{'Name': 'NAMESPACE_ID', 'Values': [ns_a], 'Condition': 'EQ'}]
    first = sd.list_services(Filters=flt)
    expect(first['Services'] == [] and first.get('NextToken'), 'an empty first page with a token')
    pages = list(sd.get_paginator('list_services').paginate(Filters=flt))
    expect_eq([[s['Name'] for s in p['Services']] for p in pages], [[], [], ['s1'], ['s2']],
              'pages')
    both = sd.get_paginator('list_services').paginate(Filters=[{
        'Name': 'NAMESPACE_ID', 'Values': [ns_a, 'ns-none'], 'Condition': 'IN'}])
    expect_eq(sum(len(p['Services']) for p in both), 2, 'IN filter')
    expect_no_rejections()


def test_next_token_is_bound_to_the_filters():
    load_state([{'Name': f'ns{i}'} for i in range(3)])
    sd = client('servicediscovery')
    token = sd.list_namespaces(MaxResults=1)['NextToken']
    code = error_code(sd.list_namespaces, MaxResults=1, NextToken=token,
                      Filters=[{'Name': 'TYPE', 'Values': ['HTTP']}])
    expect_eq(code, ('InvalidInput', 400), 'token reused with other filters')
    expect_rejected(['InvalidInput'])


def test_discover_instances_caps_and_filters():
    one_service([instance(i, 'UNHEALTHY' if i % 10 == 0 else 'HEALTHY',
                          zone='a' if i < 75 else 'b') for i in range(150)])
    sd = client('servicediscovery')
    default = sd.discover_instances(NamespaceName='prod', ServiceName='api', HealthStatus='ALL')
    expect_eq(len(default['Instances']), 100, 'default cap without MaxResults')
    every = sd.discover_instances(NamespaceName='prod', ServiceName='api', MaxResults=1000,
                                  HealthStatus='ALL')
    expect_eq(len(every['Instances']), 150, 'MaxResults=1000')
    healthy = sd.discover_instances(NamespaceName='prod', ServiceName='api', MaxResults=1000,
                                    HealthStatus='HEALTHY')
    expect_eq(len(healthy['Instances']), 135, 'HEALTHY')
    zone_b = sd.discover_instances(NamespaceName='prod', ServiceName='api', MaxResults=1000,
                                   QueryParameters={'zone': 'b'}, HealthStatus='UNHEALTHY')
    expect_eq(len(zone_b['Instances']), 7, 'QueryParameters + UNHEALTHY')
    optional = sd.discover_instances(NamespaceName='prod', ServiceName='api', MaxResults=1000,
                                     OptionalParameters={'zone': 'none'}, HealthStatus='ALL')
    expect_eq(len(optional['Instances']), 150, 'unmatched OptionalParameters are ignored')
    inst = every['Instances'][1]
    expect_eq(sorted(inst), ['Attributes', 'HealthStatus', 'InstanceId', 'NamespaceName',
                             'ServiceName'], 'instance members')
    expect_no_rejections()


def test_health_or_else_all_fails_open():
    one_service([instance(1, 'UNHEALTHY'), instance(2, 'UNHEALTHY')])
    sd = client('servicediscovery')
    got = sd.discover_instances(NamespaceName='prod', ServiceName='api',
                                HealthStatus='HEALTHY_OR_ELSE_ALL')
    expect_eq(len(got['Instances']), 2, 'all instances when none is healthy')
    expect_eq(len(sd.discover_instances(NamespaceName='prod', ServiceName='api')['Instances']),
              0, 'HEALTHY by default')
    expect_no_rejections()


def revision():
    status, data = signed_json('DiscoverInstancesRevision',
                               {'NamespaceName': 'prod', 'ServiceName': 'api'})
    expect_eq(status, 200, f'DiscoverInstancesRevision ({data[:200]!r})')
    return json.loads(data)['InstancesRevision']


def test_revision_moves_on_registration_not_on_health():
    one_service([instance(1)])
    r0 = revision()
    target = {'NamespaceName': 'prod', 'ServiceName': 'api', 'InstanceId': 'i-0001'}
    FAKE.admin('/instances/health', dict(target, HealthStatus='UNHEALTHY'))
    expect_eq(revision(), r0, 'revision after a health change')
    FAKE.admin('/instances/register', dict(target, InstanceId='i-0002',
                                           Attributes={'AWS_INSTANCE_IPV4': '10.1.1.1'}))
    r1 = revision()
    expect(r1 > r0, 'revision moves on register')
    FAKE.admin('/instances/deregister', dict(target, InstanceId='i-0002'))
    expect(revision() > r1, 'revision moves on deregister')
    got = client('servicediscovery').discover_instances(NamespaceName='prod', ServiceName='api',
                                                        HealthStatus='ALL')
    expect_eq(got.get('InstancesRevision', revision()), revision(), 'InstancesRevision')
    expect_no_rejections()


def test_register_deregister_and_get_operation():
    one_service([])
    sd = client('servicediscovery')
    srv = sd.list_services()['Services'][0]
    op = sd.register_instance(ServiceId=srv['Id'], InstanceId='web-1',
                              Attributes={'AWS_INSTANCE_IPV4': '10.2.0.1'})['OperationId']
    got = sd.get_operation(OperationId=op)['Operation']
    expect_eq((got['Status'], got['Type'], got['Targets']['INSTANCE']),
              ('SUCCESS', 'REGISTER_INSTANCE', 'web-1'), 'operation')
    found = sd.discover_instances(NamespaceName='prod', ServiceName='api')['Instances']
    expect_eq([i['InstanceId'] for i in found], ['web-1'], 'registered instance')
    sd.deregister_instance(ServiceId=srv['Id'], InstanceId='web-1')
    expect_eq(error_code(sd.deregister_instance, ServiceId=srv['Id'], InstanceId='web-1'),
              ('InstanceNotFound', 400), 'deregistering twice')
    expect_eq(error_code(sd.get_operation, OperationId='nope'), ('OperationNotFound', 400),
              'unknown operation id')
    expect_no_rejections()


def test_get_namespace_service_and_tags():
    load_state([{'Name': 'prod', 'Tags': {'team': 'obs'},
                 'services': [{'Name': 'api', 'Tags': {'scrape': 'true'}}]}])
    sd = client('servicediscovery')
    ns = sd.list_namespaces()['Namespaces'][0]
    srv = sd.list_services()['Services'][0]
    expect_eq(sd.get_namespace(Id=ns['Id'])['Namespace']['Properties']['HttpProperties'],
              {'HttpName': 'prod'}, 'HttpProperties')
    expect_eq(sd.get_service(Id=srv['Id'])['Service']['NamespaceId'], ns['Id'], 'NamespaceId')
    expect_eq(sd.list_tags_for_resource(ResourceARN=srv['Arn'])['Tags'],
              [{'Key': 'scrape', 'Value': 'true'}], 'service tags')
    FAKE.admin('/tags', {'ResourceARN': ns['Arn'], 'Tags': {'env': 'prod'}})
    expect_eq(len(sd.list_tags_for_resource(ResourceARN=ns['Arn'])['Tags']), 2, 'merged tags')
    bad_arn = ns['Arn'] + 'x'
    expect_eq(error_code(sd.list_tags_for_resource, ResourceARN=bad_arn),
              ('ResourceNotFoundException', 400), 'unknown ARN')
    expect_eq(error_code(sd.get_service, Id='srv-nope'), ('ServiceNotFound', 400), 'GetService')
    expect_eq(error_code(sd.discover_instances, NamespaceName='nope', ServiceName='api'),
              ('NamespaceNotFound', 400), 'DiscoverInstances')
    expect_no_rejections()


def test_get_parameter():
    FAKE.admin('/ssm/parameters', {'Name': '/cloudmap-sd/config', 'Value': 'v1'})
    FAKE.admin('/ssm/parameters', {'Name': '/cloudmap-sd/config', 'Value': 'v2'})
    FAKE.admin('/ssm/parameters', {'Name': '/secret', 'Value': 's3cr3t', 'Type': 'SecureString'})
    ssm = client('ssm')
    p = ssm.get_parameter(Name='/cloudmap-sd/config')['Parameter']
    expect_eq((p['Value'], p['Version'], p['Type']), ('v2', 2, 'String'), 'parameter')
    expect_eq(ssm.get_parameter(Name='/secret', WithDecryption=True)['Parameter']['Value'],
              's3cr3t', 'decrypted SecureString')
    expect(ssm.get_parameter(Name='/secret')['Parameter']['Value'] != 's3cr3t',
           'SecureString without decryption')
    expect_eq(error_code(ssm.get_parameter, Name='/missing'), ('ParameterNotFound', 400),
              'unknown parameter')
    expect_no_rejections()


def web_identity(token, role='arn:aws:iam::123456789012:role/cloudmap-sd'):
    form = urllib.parse.urlencode({'Action': 'AssumeRoleWithWebIdentity',
                                   'Version': '2011-06-15', 'RoleArn': role,
                                   'RoleSessionName': 'cloudmap-sd-1',
                                   'WebIdentityToken': token}).encode()
    return send({'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'}, form)


def test_assume_role_with_web_identity_raw_form():
    status, data = web_identity('fake-web-identity-token')
    expect_eq(status, 200, f'AssumeRoleWithWebIdentity ({data[:300]!r})')
    root = ET.fromstring(data)
    creds = root.find(f'{STS_NS}AssumeRoleWithWebIdentityResult/{STS_NS}Credentials')
    values = {e.tag[len(STS_NS):]: e.text for e in creds}
    expect_eq(sorted(values), ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'SessionToken'],
              'credential members')
    expect(values['Expiration'].endswith('Z') and 'T' in values['Expiration'], 'ISO-8601')
    issued = botocore.credentials.Credentials(values['AccessKeyId'], values['SecretAccessKey'],
                                              values['SessionToken'])
    who = client('sts', issued).get_caller_identity()
    expect_eq(who['Arn'], 'arn:aws:sts::123456789012:assumed-role/cloudmap-sd/cloudmap-sd-1',
              'caller identity with the issued credentials')
    status, data = web_identity('not-the-token')
    expect_eq((status, ET.fromstring(data).find(f'{STS_NS}Error/{STS_NS}Code').text),
              (400, 'InvalidIdentityToken'), 'wrong token')
    FAKE.admin('/sts/web-identity', {'role_arn': 'arn:aws:iam::123456789012:role/other'})
    expect_eq(web_identity('fake-web-identity-token')[0], 403, 'role not allowed')
    expect_no_rejections()


# Rejected: the same requests, tampered with.

def test_rejects_a_wrong_secret():
    wrong = botocore.credentials.Credentials(FAKE.info['access_key_id'], 'not-the-secret')
    status, data = signed_json('ListNamespaces', {}, creds=wrong)
    expect_eq((status, json_error(data)), (400, 'InvalidSignatureException'), 'answer')
    rej = rejections()
    expect('canonical_request' in rej[0]['details'], 'the rejection shows the canonical request')
    expect_rejected(['InvalidSignatureException'])


def test_rejects_an_unknown_access_key():
    other = botocore.credentials.Credentials('AKIANOTREGISTERED001', 'x')
    status, data = signed_json('ListNamespaces', {}, creds=other)
    expect_eq((status, json_error(data)), (400, 'UnrecognizedClientException'), 'answer')
    expect_rejected(['UnrecognizedClientException'])


def test_rejects_a_body_changed_after_signing():
    body = json.dumps({'MaxResults': 10}).encode()
    headers = sign(json_headers('ListNamespaces'), body)
    status, data = send(headers, json.dumps({'MaxResults': 11}).encode())
    expect_eq((status, json_error(data)), (400, 'InvalidSignatureException'), 'answer')
    expect_rejected(['InvalidSignatureException'])


def test_rejects_a_header_changed_after_signing():
    headers = sign(json_headers('ListNamespaces'), b'{}')
    headers['X-Amz-Target'] = f'{SD_TARGET}.ListServices'
    status, data = send(headers, b'{}')
    expect_eq((status, json_error(data)), (400, 'InvalidSignatureException'), 'answer')
    headers = sign(json_headers('ListNamespaces'), b'{}')
    headers['Content-Type'] = JSON_TYPE + '; charset=utf-8'
    expect_eq(send(headers, b'{}')[0], 400, 'Content-Type changed')
    expect_rejected(['InvalidSignatureException', 'InvalidSignatureException'])


def test_rejects_a_signature_that_leaves_out_required_headers():
    for left_out in ('Content-Type', 'X-Amz-Target'):
        headers = json_headers('ListNamespaces')
        value = headers.pop(left_out)
        headers = sign(headers, b'{}')
        headers[left_out] = value
        status, data = send(headers, b'{}')
        expect_eq((status, json_error(data)), (400, 'InvalidSignatureException'), left_out)
        expect(f"'{left_out.lower()}' must be a 'SignedHeader'" in json.loads(data)['message'],
               'the message names the header')
    expect_rejected(['InvalidSignatureException', 'InvalidSignatureException'])


def test_rejects_a_stale_or_future_date():
    status, data = signed_json('ListNamespaces', {}, offset_sec=-600)
    expect_eq((status, json_error(data)), (400, 'InvalidSignatureException'), 'stale')
    expect('Signature expired' in json.loads(data)['message'], 'message says expired')
    expect_eq(signed_json('ListNamespaces', {}, offset_sec=600)[0], 400, 'future')
    expect_eq(signed_json('ListNamespaces', {}, offset_sec=-200)[0], 200, 'within 5 minutes')
    expect_rejected(['InvalidSignatureException', 'InvalidSignatureException'])


def test_rejects_a_wrong_scope():
    expect_eq(signed_json('ListNamespaces', {}, region='us-west-2')[0], 400, 'region')
    expect_eq(signed_json('ListNamespaces', {}, service='ssm')[0], 400, 'service')
    expect_rejected(['InvalidSignatureException', 'InvalidSignatureException'])


def test_rejects_unsigned_and_unknown_operations():
    status, data = send(json_headers('ListNamespaces'), b'{}')
    expect_eq((status, json_error(data)), (400, 'MissingAuthenticationTokenException'),
              'unsigned')
    status, data = signed_json('ListEverything', {})
    expect_eq((status, json_error(data)), (400, 'UnknownOperationException'), 'unknown op')
    form = b'Action=GetCallerIdentity&Version=2011-06-15'
    status, data = send({'Content-Type': 'application/x-www-form-urlencoded'}, form)
    expect_eq(status, 403, 'GetCallerIdentity must be signed')
    expect_rejected(['MissingAuthenticationTokenException', 'UnknownOperationException',
                     'MissingAuthenticationToken'])


def test_rejects_wrong_framing():
    headers = dict(json_headers('ListNamespaces'), **{'Content-Type': 'application/json'})
    status, data = send(sign(headers, b'{}'), b'{}')
    expect_eq((status, json_error(data)), (400, 'UnknownOperationException'), 'Content-Type')
    form = b'Action=GetCallerIdentity&Version=2011-06-16'
    headers = sign({'Content-Type': 'application/x-www-form-urlencoded'}, form, service='sts')
    status, data = send(headers, form)
    expect_eq(status, 400, 'STS Version')
    expect_rejected(['UnknownOperationException', 'InvalidAction'])


def test_rejects_invalid_input():
    one_service([])
    sd = client('servicediscovery', validate=False)
    expect_eq(error_code(sd.list_namespaces, MaxResults=0), ('ValidationException', 400),
              'MaxResults=0')
    expect_eq(error_code(sd.discover_instances, NamespaceName='prod', ServiceName='api',
                         HealthStatus='SOMETIMES'), ('ValidationException', 400), 'bad enum')
    expect_eq(error_code(sd.discover_instances, ServiceName='api'),
              ('ValidationException', 400), 'missing NamespaceName')
    expect_eq(error_code(sd.discover_instances, NamespaceName='prod', ServiceName='api',
                         MaxResults=1001), ('ValidationException', 400), 'MaxResults=1001')
    status, data = signed_json('ListNamespaces', {'Maxresults': 5})
    expect_eq((status, json_error(data)), (400, 'ValidationException'), 'unknown member')
    body = b'{"MaxResults": '
    status, data = send(sign(json_headers('ListNamespaces'), body), body)
    expect_eq(json_error(data), 'SerializationException', 'unparsable JSON')
    expect_rejected(['ValidationException'] * 5 + ['SerializationException'])


def test_rejects_session_token_mismatch_and_expired_credentials():
    FAKE.admin('/credentials', {'access_key_id': 'ASIATEMPORARY0000001',
                                'secret_access_key': 'temp-secret', 'session_token': 'tok'})
    good = botocore.credentials.Credentials('ASIATEMPORARY0000001', 'temp-secret', 'tok')
    expect_eq(signed_json('ListNamespaces', {}, creds=good)[0], 200, 'with the token')
    no_token = botocore.credentials.Credentials('ASIATEMPORARY0000001', 'temp-secret')
    status, data = signed_json('ListNamespaces', {}, creds=no_token)
    expect_eq((status, json_error(data)), (400, 'UnrecognizedClientException'), 'no token')
    FAKE.admin('/credentials', {'access_key_id': 'ASIATEMPORARY0000001',
                                'secret_access_key': 'temp-secret', 'session_token': 'tok',
                                'expires_at_unix': time.time() - 1})
    status, data = signed_json('ListNamespaces', {}, creds=good)
    expect_eq((status, json_error(data)), (400, 'ExpiredTokenException'), 'expired')
    expect_rejected(['UnrecognizedClientException', 'ExpiredTokenException'])


# Faults.

def add_fault(**spec):
    return FAKE.admin('/faults', spec)['id']


def test_fault_error_with_count():
    FAKE.admin('/ssm/parameters', {'Name': 'p', 'Value': 'v'})
    add_fault(operation='GetParameter', kind='error', status=400, code='ThrottlingException',
              message='Rate exceeded', count=2)
    ssm = client('ssm')
    for _ in range(2):
        expect_eq(error_code(ssm.get_parameter, Name='p'), ('ThrottlingException', 400),
                  'throttled')
    expect_eq(ssm.get_parameter(Name='p')['Parameter']['Value'], 'v', 'third call')
    calls = FAKE.admin('/calls')['GetParameter']
    expect_eq((calls['total'], calls['accepted'], calls['faulted']), (3, 3, 2), 'counters')
    expect_eq(FAKE.admin('/faults'), [], 'the fault is used up')
    expect_no_rejections()


def test_fault_wildcard_until_cleared():
    add_fault(operation='*', kind='error', status=503, code='ServiceUnavailable')
    sd = client('servicediscovery')
    for _ in range(3):
        expect_eq(error_code(sd.list_namespaces), ('ServiceUnavailable', 503), 'unavailable')
    FAKE.admin('/faults/clear', {})
    sd.list_namespaces()
    expect_no_rejections()


def test_fault_match_limits_it_to_some_calls():
    one_service([instance(i, 'HEALTHY') for i in range(2)])
    add_fault(operation='DiscoverInstances', kind='error', status=503,
              code='ServiceUnavailable', match={'ServiceName': 'api'})
    sd = client('servicediscovery')
    expect_eq(error_code(sd.discover_instances, NamespaceName='prod', ServiceName='api'),
              ('ServiceUnavailable', 503), 'the matching call fails')
    expect_eq(error_code(sd.discover_instances, NamespaceName='prod', ServiceName='other'),
              ('ServiceNotFound', 400), 'another service gets its real answer')
    expect_no_rejections()


def test_fault_malformed_truncated_closed_reset():
    add_fault(operation='ListNamespaces', kind='malformed', count=1)
    status, data = signed_json('ListNamespaces', {})
    expect(status == 200 and not _parses(data), f'malformed 200 body: {data!r}')
    add_fault(operation='ListNamespaces', kind='truncate', count=1)
    _expect_raises(http.client.IncompleteRead, 'truncated body')
    add_fault(operation='ListNamespaces', kind='close', count=1)
    _expect_raises(http.client.RemoteDisconnected, 'closed without answer')
    add_fault(operation='ListNamespaces', kind='reset', count=1)
    _expect_raises(ConnectionResetError, 'reset')
    expect_eq(signed_json('ListNamespaces', {})[0], 200, 'after the faults')
    expect_no_rejections()


def _parses(data):
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def _expect_raises(exc_type, what):
    try:
        signed_json('ListNamespaces', {})
    except Exception as e:  # noqa: BLE001
        if type(e) is exc_type:  # exactly: RemoteDisconnected is a ConnectionResetError too
            return
        raise Failure(f'{what}: raised {type(e).__name__}, want {exc_type.__name__}') from None
    raise Failure(f'{what}: no error, want {exc_type.__name__}')


def test_fault_drip_and_latency():
    add_fault(operation='ListNamespaces', kind='drip', delay_ms=1, count=1)
    start = time.monotonic()
    status, data = signed_json('ListNamespaces', {})
    elapsed = time.monotonic() - start
    expect_eq((status, json.loads(data)), (200, {'Namespaces': []}), 'dripped answer')
    expect(elapsed >= 0.001 * 150, f'~190 bytes, 1 ms apart, came in {elapsed:.3f} s')
    add_fault(operation='ListNamespaces', kind='latency', delay_ms=150, count=1)
    start = time.monotonic()
    expect_eq(signed_json('ListNamespaces', {})[0], 200, 'delayed answer')
    expect(time.monotonic() - start >= 0.15, 'latency added')
    expect_no_rejections()


def test_fault_hang_until_cleared():
    add_fault(operation='ListNamespaces', kind='hang')
    try:
        signed_json('ListNamespaces', {}, timeout=0.2)
        raise Failure('a hung request answered')
    except TimeoutError:
        pass
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=signed_json('ListNamespaces', {})))
    worker.start()
    deadline = time.monotonic() + 5
    while FAKE.admin('/calls').get('ListNamespaces', {}).get('total', 0) < 1:
        expect(time.monotonic() < deadline, 'the second request never arrived')
        time.sleep(0.01)
    FAKE.admin('/faults/clear', {'operation': 'ListNamespaces'})
    worker.join(5)
    expect_eq(result.get('r', (None,))[0], 200, 'answered once cleared')
    expect_no_rejections()


# IMDS and ECS.

def imds(method, path, headers=None):
    return http_call(FAKE.info['imds'] + path, method, b'' if method == 'PUT' else None,
                     headers)


def imds_token(ttl='21600'):
    return imds('PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': ttl})


def test_imds_token_rules():
    expect_eq(imds('PUT', '/latest/api/token')[0], 400, 'no TTL')
    expect_eq(imds_token('0')[0], 400, 'TTL 0')
    expect_eq(imds_token('21601')[0], 400, 'TTL 21601')
    status, token = imds_token('60')
    expect_eq(status, 200, 'token')
    creds_dir = '/latest/meta-data/iam/security-credentials/'
    expect_eq(imds('GET', creds_dir)[0], 401, 'GET without token')
    expect_eq(imds('GET', creds_dir, {'X-aws-ec2-metadata-token': 'bad'})[0], 401, 'bad token')
    hdr = {'X-aws-ec2-metadata-token': token.decode()}
    status, role = imds('GET', creds_dir, hdr)
    expect_eq((status, role), (200, b'fake-role'), 'role')
    status, data = imds('GET', creds_dir + 'fake-role', hdr)
    doc = json.loads(data)
    expect_eq((doc['Code'], doc['Type']), ('Success', 'AWS-HMAC'), 'credentials document')
    issued = botocore.credentials.Credentials(doc['AccessKeyId'], doc['SecretAccessKey'],
                                              doc['Token'])
    expect(client('sts', issued).get_caller_identity()['Arn'].endswith(':role/fake-role'),
           'IMDS credentials sign AWS calls')
    expect_eq(imds('GET', '/latest/meta-data/placement/region', hdr)[1], b'us-east-1', 'region')
    FAKE.admin('/config', {'clock_offset_sec': 61})
    expect_eq(imds('GET', creds_dir, hdr)[0], 401, 'expired token')
    stats = FAKE.admin('/imds')['stats']
    counters = tuple(stats[k] for k in ('token_puts', 'token_puts_refused', 'gets_with_token',
                                        'gets_without_token', 'gets_refused'))
    expect_eq(counters, (4, 3, 5, 1, 3), 'counters')
    expect_no_rejections()


def test_imds_knobs():
    FAKE.admin('/imds', {'token_status': 405})
    expect_eq(imds_token()[0], 405, 'token PUT answers 405')
    FAKE.admin('/imds', {'token_status': None, 'allow_v1': True})
    expect_eq(imds('GET', '/latest/meta-data/instance-id')[0], 200, 'IMDSv1 allowed')
    FAKE.admin('/imds', {'token_hang': True})
    try:
        http_call(FAKE.info['imds'] + '/latest/api/token', 'PUT', b'',
                  {'X-aws-ec2-metadata-token-ttl-seconds': '60'}, timeout=0.2)
        raise Failure('the token PUT answered while hanging')
    except TimeoutError:
        pass
    FAKE.admin('/imds', {'token_hang': False})
    expect_eq(imds_token()[0], 200, 'token PUT after the hang')
    stats = FAKE.admin('/imds')['stats']
    expect_eq(stats['gets_without_token'], 1, 'counted GET without token')


def test_ecs_authorization_and_task_metadata():
    FAKE.admin('/ecs', {'authorization': 'Bearer secret-token'})
    url = FAKE.info['ecs'] + '/v2/credentials/fake'
    expect_eq(http_call(url)[0], 401, 'no Authorization')
    expect_eq(http_call(url, headers={'Authorization': 'Bearer wrong'})[0], 403, 'wrong one')
    status, data = http_call(url, headers={'Authorization': 'Bearer secret-token'})
    doc = json.loads(data)
    expect_eq((status, sorted(doc)), (200, ['AccessKeyId', 'Expiration', 'RoleArn',
                                            'SecretAccessKey', 'Token']), 'credentials')
    issued = botocore.credentials.Credentials(doc['AccessKeyId'], doc['SecretAccessKey'],
                                              doc['Token'])
    client('servicediscovery', issued).list_namespaces()
    ecs = FAKE.admin('/ecs')['stats']
    expect_eq(ecs['authorization_headers'], [None, 'Bearer wrong', 'Bearer secret-token'],
              'headers seen')
    status, data = http_call(FAKE.info['ecs'] + '/v4/fake-task/task')
    task = json.loads(data)
    expect_eq((task['TaskARN'].split(':')[3], task['AvailabilityZone']),
              ('us-east-1', 'us-east-1a'), 'task metadata')
    add_fault(operation='EcsCredentials', kind='error', status=500, code='InternalError',
              count=1)
    expect_eq(http_call(url, headers={'Authorization': 'Bearer secret-token'})[0], 500,
              'fault on the ECS endpoint')
    expect_no_rejections()


# Admin API and entry points.

def test_state_round_trip_and_reset():
    one_service([instance(1), instance(2, 'UNHEALTHY')])
    dumped = FAKE.admin('/state')
    FAKE.admin('/reset', {})
    expect_eq(FAKE.admin('/state')['namespaces'], [], 'reset empties the state')
    FAKE.admin('/state', dumped)
    expect_eq(FAKE.admin('/state'), dumped, 'dump after load')
    expect_eq(FAKE.admin('/nope', expect_status=404)['error'][:8], 'no admin', 'unknown route')
    err = FAKE.admin('/faults', {'operation': 'X', 'kind': 'explode'}, expect_status=400)
    expect('kind' in err['error'], 'bad fault spec explained')


CHILD_CHECK = r'''
import json, os, sys, urllib.request
for k in ("FAKE_AWS_URL", "FAKE_ADMIN_URL", "FAKE_ECS_URL", "FAKE_IMDS_URL", "AWS_ENDPOINT_URL",
          "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    assert os.environ.get(k), k
assert os.environ["AWS_REGION"] == "us-east-1" and os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
assert "AWS_PROFILE" not in os.environ
health = json.load(urllib.request.urlopen(os.environ["FAKE_ADMIN_URL"] + "/health"))
assert health == {"ok": True}, health
sys.exit(7)
'''

CHILD_TLS = r'''
import os, botocore.session
from botocore.config import Config
c = botocore.session.get_session().create_client(
    "servicediscovery", region_name="us-east-1", endpoint_url=os.environ["FAKE_AWS_URL"],
    verify=os.environ["FAKE_CA_BUNDLE"], config=Config(retries={"total_max_attempts": 1,
    "mode": "standard"}))
assert os.environ["FAKE_AWS_URL"].startswith("https://")
assert c.list_namespaces()["Namespaces"] == []
'''


CHILD_STATE = r'''
import json, os, urllib.request
admin = os.environ["FAKE_ADMIN_URL"]
def names():
    state = json.load(urllib.request.urlopen(admin + "/state"))
    return [s["Name"] for ns in state["namespaces"] for s in ns["services"]]
assert names() == ["api"], names()
state = json.load(urllib.request.urlopen(admin + "/state"))
service_id = state["namespaces"][0]["services"][0]["Id"]
urllib.request.urlopen(admin + "/services/delete", json.dumps({"Id": service_id}).encode())
assert names() == [], names()
urllib.request.urlopen(admin + "/reset", b"{}")
assert names() == ["api"], "reset restores the --state file"
'''


def run_with_fakes(*args):
    env = dict(os.environ, AWS_PROFILE='someone-else')
    return subprocess.run([sys.executable, os.path.join(FAKE_DIR, 'run-with-fakes.py'), *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_run_with_fakes_passes_the_environment_and_exit_code():
    r = run_with_fakes('--', sys.executable, '-c', CHILD_CHECK)
    expect_eq(r.returncode, 7, f'exit code (stderr: {r.stderr.strip()[-500:]})')


def test_run_with_fakes_state_file():
    path = os.path.join(FAKE.tmp, 'state.json')
    with open(path, 'w') as f:
        json.dump({'namespaces': [{'Name': 'prod', 'services': [{'Name': 'api'}]}]}, f)
    r = run_with_fakes('--state', path, '--', sys.executable, '-c', CHILD_STATE)
    expect_eq(r.returncode, 0, f'exit code (stderr: {r.stderr.strip()[-800:]})')


def test_run_with_fakes_tls():
    r = run_with_fakes('--tls', '--', sys.executable, '-c', CHILD_TLS)
    expect_eq(r.returncode, 0, f'exit code (stderr: {r.stderr.strip()[-800:]})')


CASES = [v for k, v in list(globals().items()) if k.startswith('test_') and callable(v)]


def main():
    global FAKE
    print(f'1..{len(CASES)}', flush=True)
    FAKE = FakeProcess()
    failed = 0
    try:
        for i, case in enumerate(CASES, 1):
            name = case.__name__[len('test_'):]
            try:
                FAKE.admin('/reset', {})
                case()
                print(f'ok {i} - {name}', flush=True)
            except Exception as e:  # noqa: BLE001
                failed += 1
                detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
                for line in detail.splitlines():
                    print(f'# {line}')
                print(f'not ok {i} - {name}', flush=True)
    finally:
        FAKE.stop()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
