# SPDX-License-Identifier: Apache-2.0
"""imds: the EC2 instance metadata service (IMDSv2), faked.

PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds in
1..21600 answers a session token (400 otherwise; 403 with
X-Forwarded-For, as EC2 does). GETs under /latest/ need a valid, unexpired
X-aws-ec2-metadata-token (401 otherwise) unless allow_v1 is set. Served:
meta-data/iam/security-credentials/ (the role), .../<role> (credentials,
registered for signed AWS calls), placement/region,
placement/availability-zone, instance-id, and
dynamic/instance-identity/document. Knobs: token_status (the token PUT
answers 403, 404, 405...), token_hang (it answers nothing until cleared),
allow_v1. Operations for faults: "ImdsToken", "ImdsGet". Token expiry
follows the fake's clock. Methods take the world's lock.
"""

import json
import secrets
import threading

from . import faults
from .creds import Issuer
from .protocol import iso8601
from .server import Response

TOKEN_PATH = '/latest/api/token'
TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds'
TOKEN_HEADER = 'X-aws-ec2-metadata-token'
MAX_TTL_SEC = 21600

DEFAULTS = {
    'role_name': 'fake-role',
    'allow_v1': False,
    'token_status': None,
    'token_hang': False,
    'credentials_ttl_sec': 3600,
    'rotate': False,
    'instance_id': 'i-0fa4e1c0ffee00001',
    'availability_zone': None,  # None: the region + "a"
}


def _text(status, text, headers=()):
    return Response(status, text.encode(), [('Content-Type', 'text/plain'), *headers])


class ImdsFake:
    def __init__(self, world):
        self.world = world
        self.issuer = Issuer(world, 'imds')
        self.unhang = threading.Event()
        world.extensions.append(self)
        self.reset()

    def reset(self):
        with self.world.lock:
            self.config = dict(DEFAULTS)
            self.tokens = {}  # token -> expiry on the fake's clock
            self.issuer.reset()
            self.stats = dict.fromkeys(('token_puts', 'token_puts_refused', 'gets_with_token',
                                        'gets_without_token', 'gets_refused'), 0)
            self.unhang.set()
            self.unhang = threading.Event()

    def update(self, changes):
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f'unknown IMDS settings: {", ".join(sorted(unknown))}')
        with self.world.lock:
            self.config.update(changes)
            if not self.config['token_hang']:
                self.unhang.set()
                self.unhang = threading.Event()

    def describe(self):
        with self.world.lock:
            return {'config': dict(self.config), 'stats': dict(self.stats)}

    def _count(self, name):
        with self.world.lock:
            self.stats[name] += 1

    def handle(self, req):
        if req.method == 'PUT' and req.path == TOKEN_PATH:
            op = 'ImdsToken'
            resp, _ = faults.serve(self.world, req, op, lambda: self._token(req),
                                   _fault_response, wildcard=False)
        elif req.method == 'GET' and req.path.startswith('/latest/'):
            op = 'ImdsGet'
            resp, _ = faults.serve(self.world, req, op, lambda: self._get(req),
                                   _fault_response, wildcard=False)
        else:
            op, resp = None, _text(405 if req.path.startswith('/latest/') else 404, '')
        self.world.journal.record({'listener': 'imds', 'method': req.method, 'path': req.path,
                                   'operation': op, 'status': resp.status,
                                   'verdict': 'accepted' if resp.status < 400 else 'refused'})
        return resp

    def _token(self, req):
        self._count('token_puts')
        with self.world.lock:
            cfg, unhang = dict(self.config), self.unhang
        if cfg['token_hang'] and req.wait(None, unhang) != 'released':
            return Response(0, transport='close')
        refused = self._token_refusal(req, cfg)
        if refused is not None:
            self._count('token_puts_refused')
            return refused
        ttl = int(req.header(TTL_HEADER))
        token = secrets.token_urlsafe(32)
        with self.world.lock:
            self.tokens[token] = self.world.now() + ttl
        return _text(200, token, [(TTL_HEADER, str(ttl))])

    def _token_refusal(self, req, cfg):
        if cfg['token_status'] is not None:
            return _text(cfg['token_status'], '')
        if req.header('X-Forwarded-For') is not None:
            return _text(403, '')
        ttl = req.header(TTL_HEADER)
        if ttl is None or not ttl.strip().isdigit() or not 1 <= int(ttl) <= MAX_TTL_SEC:
            return _text(400, '')
        return None

    def _token_ok(self, token):
        with self.world.lock:
            expiry = self.tokens.get(token)
            return expiry is not None and expiry > self.world.now()

    def _get(self, req):
        token = req.header(TOKEN_HEADER)
        with self.world.lock:
            allow_v1 = self.config['allow_v1']
        self._count('gets_with_token' if token is not None else 'gets_without_token')
        if token is not None and not self._token_ok(token) or token is None and not allow_v1:
            self._count('gets_refused')
            return _text(401, '')
        return self._route(req.path)

    def _route(self, path):
        with self.world.lock:
            cfg = dict(self.config)
        region = self.world.region()
        zone = cfg['availability_zone'] or region + 'a'
        creds_dir = '/latest/meta-data/iam/security-credentials/'
        if path == creds_dir:
            return _text(200, cfg['role_name'])
        if path == creds_dir + cfg['role_name']:
            return self._credentials(cfg)
        simple = {
            '/latest/meta-data/placement/region': region,
            '/latest/meta-data/placement/availability-zone': zone,
            '/latest/meta-data/instance-id': cfg['instance_id'],
            '/latest/dynamic/instance-identity/document': json.dumps({
                'region': region, 'availabilityZone': zone, 'instanceId': cfg['instance_id'],
                'accountId': self.world.account_id()}),
        }
        if path in simple:
            return _text(200, simple[path])
        return _text(404, '')

    def _credentials(self, cfg):
        arn = f'arn:aws:iam::{self.world.account_id()}:role/{cfg["role_name"]}'
        cred = self.issuer.credential(cfg['credentials_ttl_sec'], arn, cfg['rotate'])
        body = {'Code': 'Success', 'LastUpdated': iso8601(self.world.now()),
                'Type': 'AWS-HMAC', 'AccessKeyId': cred.access_key_id,
                'SecretAccessKey': cred.secret_access_key, 'Token': cred.session_token,
                'Expiration': iso8601(cred.expires_at_unix)}
        return Response(200, json.dumps(body).encode(), [('Content-Type', 'text/plain')])


def _fault_response(fault):
    if fault.kind == 'error':
        return _text(fault.status, fault.message or '')
    return _text(fault.status, fault.body if fault.body is not None else '{"Code": "Succ')
