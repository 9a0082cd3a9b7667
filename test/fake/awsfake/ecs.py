# SPDX-License-Identifier: Apache-2.0
"""ecs: the ECS container credentials endpoint and task metadata v4, faked.

GET <credentials_path> answers {AccessKeyId, SecretAccessKey, Token,
Expiration, RoleArn} after checking the Authorization header against the
configured value (none configured: any or none passes; missing: 401;
wrong: 403). The credentials it hands out are registered for signed AWS
calls. GET <task_metadata_path> and <task_metadata_path>/task answer the
container and task metadata. Settings, counters and the Authorization
headers seen are read and changed through the admin API. Operations for
faults: "EcsCredentials", "EcsTaskMetadata". Methods take the world's lock;
requests run in the listener's threads.
"""

import json

from . import faults
from .creds import Issuer
from .protocol import iso8601
from .server import Response

DEFAULTS = {
    'credentials_path': '/v2/credentials/fake',
    'authorization': None,
    'credentials_ttl_sec': 3600,
    'rotate': False,
    'role_arn': 'arn:aws:iam::123456789012:role/fake-ecs-task-role',
    'status': None,  # answer the credentials request with this status instead
    'task_metadata_path': '/v4/fake-task',
    'cluster': 'fake-cluster',
    'availability_zone': None,  # None: the region + "a"
}


def _json(status, value):
    return Response(status, json.dumps(value).encode(), [('Content-Type', 'application/json')])


class EcsFake:
    def __init__(self, world):
        self.world = world
        self.issuer = Issuer(world, 'ecs')
        world.extensions.append(self)
        self.reset()

    def reset(self):
        with self.world.lock:
            self.config = dict(DEFAULTS)
            self.issuer.reset()
            self.stats = {'credential_calls': 0, 'task_metadata_calls': 0,
                          'authorization_headers': []}

    def update(self, changes):
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f'unknown ECS settings: {", ".join(sorted(unknown))}')
        with self.world.lock:
            self.config.update(changes)

    def describe(self):
        with self.world.lock:
            return {'config': dict(self.config), 'stats': json.loads(json.dumps(self.stats))}

    def handle(self, req):
        with self.world.lock:
            cfg = dict(self.config)
        base = cfg['task_metadata_path'].rstrip('/')
        if req.method != 'GET':
            resp, op = Response(405, b'method not allowed\n'), None
        elif req.path == cfg['credentials_path']:
            op = 'EcsCredentials'
            resp, fault = faults.serve(self.world, req, op, lambda: self._credentials(req, cfg),
                                       _fault_response, wildcard=False)
        elif req.path in (base, base + '/task'):
            op = 'EcsTaskMetadata'
            resp, fault = faults.serve(self.world, req, op, lambda: self._metadata(req, cfg),
                                       _fault_response, wildcard=False)
        else:
            resp, op = Response(404, b'not found\n'), None
        self.world.journal.record({'listener': 'ecs', 'method': req.method, 'path': req.path,
                                   'operation': op, 'status': resp.status,
                                   'verdict': 'accepted' if resp.status < 400 else 'refused'})
        return resp

    def _credentials(self, req, cfg):
        auth = req.header('Authorization')
        with self.world.lock:
            self.stats['credential_calls'] += 1
            self.stats['authorization_headers'].append(auth)
        if cfg['authorization'] is not None and auth is None:
            return _json(401, {'code': 'Unauthorized', 'message': 'missing Authorization'})
        if cfg['authorization'] is not None and auth != cfg['authorization']:
            return _json(403, {'code': 'AccessDenied', 'message': 'bad Authorization'})
        if cfg['status'] is not None:
            return _json(cfg['status'], {'code': 'Error', 'message': 'configured status'})
        cred = self.issuer.credential(cfg['credentials_ttl_sec'], cfg['role_arn'], cfg['rotate'])
        return _json(200, {'RoleArn': cfg['role_arn'], 'AccessKeyId': cred.access_key_id,
                           'SecretAccessKey': cred.secret_access_key,
                           'Token': cred.session_token,
                           'Expiration': iso8601(cred.expires_at_unix)})

    def _metadata(self, req, cfg):
        with self.world.lock:
            self.stats['task_metadata_calls'] += 1
        region, account = self.world.region(), self.world.account_id()
        task_arn = f'arn:aws:ecs:{region}:{account}:task/{cfg["cluster"]}/abc'
        if not req.path.endswith('/task'):
            return _json(200, {'DockerId': 'abc', 'Name': 'cloudmap-sd', 'Labels': {
                'com.amazonaws.ecs.task-arn': task_arn,
                'com.amazonaws.ecs.cluster': cfg['cluster']}})
        return _json(200, {
            'Cluster': cfg['cluster'], 'TaskARN': task_arn, 'Family': 'cloudmap-sd',
            'Revision': '1', 'DesiredStatus': 'RUNNING', 'KnownStatus': 'RUNNING',
            'LaunchType': 'FARGATE',
            'AvailabilityZone': cfg['availability_zone'] or region + 'a', 'Containers': []})


def _fault_response(fault):
    if fault.kind == 'error':
        return _json(fault.status, {'code': fault.code, 'message': fault.message or ''})
    body = fault.body.encode() if fault.body is not None else b'{"AccessKeyId": "ASIA'
    return Response(fault.status, body, [('Content-Type', 'application/json')])
