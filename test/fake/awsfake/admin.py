# SPDX-License-Identifier: Apache-2.0
"""admin: the fake's control API, JSON over HTTP under /_fake/, unsigned.

Tests use it to set the stage (state, credentials, faults, knobs) and to
read what happened (the request log, rejections, counters). Each route is
one small function over the world; README.md documents them with examples.
Bad input answers 400 {"error": "..."}; an unknown route 404. Runs in the
listener's threads; the stores take the world's lock.
"""

import json

from .creds import Credential
from .server import Response

PREFIX = '/_fake'
CREDENTIAL_KEYS = {'access_key_id', 'secret_access_key', 'session_token', 'expires_at_unix',
                   'arn'}


class AdminError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _reply(status, value):
    return Response(status, (json.dumps(value, indent=1, default=str) + '\n').encode(),
                    [('Content-Type', 'application/json')])


def _only(body, allowed):
    unknown = set(body) - set(allowed)
    if unknown:
        raise AdminError(400, f'unknown fields: {", ".join(sorted(unknown))}')


INSTANCE_KEYS = ('ServiceId', 'NamespaceName', 'ServiceName', 'InstanceId')


def _need(body, key, kind=str):
    value = body.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise AdminError(400, f'{key!r} is required ({kind.__name__})')
    return value


class AdminApp:
    def __init__(self, world, ecs, imds):
        self.world, self.ecs, self.imds = world, ecs, imds
        w = world
        self.routes = {
            ('GET', 'health'): lambda b: {'ok': True},
            ('POST', 'reset'): lambda b: w.reset() or {'ok': True},
            ('GET', 'config'): lambda b: dict(w.settings),
            ('POST', 'config'): lambda b: w.update_settings(b) or dict(w.settings),
            ('GET', 'credentials'): lambda b: w.creds.list(),
            ('POST', 'credentials'): self.add_credential,
            ('POST', 'credentials/delete'):
                lambda b: _only(b, ['access_key_id']) or
                {'deleted': w.creds.delete(_need(b, 'access_key_id'))},
            ('GET', 'state'): lambda b: w.dump_state(),
            ('POST', 'state'): lambda b: w.load_state(b) or {'ok': True},
            ('POST', 'namespaces'): self.create_namespace,
            ('POST', 'namespaces/delete'): self.delete_namespace,
            ('POST', 'services'): self.create_service,
            ('POST', 'services/delete'): self.delete_service,
            ('POST', 'instances/register'): self.register,
            ('POST', 'instances/deregister'): self.deregister,
            ('POST', 'instances/health'): self.set_health,
            ('POST', 'tags'): self.set_tags,
            ('GET', 'ssm/parameters'): lambda b: w.parameters.dump(),
            ('POST', 'ssm/parameters'): lambda b: w.parameters.put(b) or {'ok': True},
            ('POST', 'ssm/parameters/delete'):
                lambda b: {'deleted': w.parameters.delete(_need(b, 'Name'))},
            ('GET', 'sts/web-identity'): lambda b: w.web_identity.get(),
            ('POST', 'sts/web-identity'):
                lambda b: w.web_identity.update(b) or w.web_identity.get(),
            ('GET', 'ecs'): lambda b: ecs.describe(),
            ('POST', 'ecs'): lambda b: ecs.update(b) or ecs.describe(),
            ('GET', 'imds'): lambda b: imds.describe(),
            ('POST', 'imds'): lambda b: imds.update(b) or imds.describe(),
            ('GET', 'faults'): lambda b: w.faults.list(),
            ('POST', 'faults'): lambda b: {'id': w.faults.add(b)},
            ('POST', 'faults/clear'): self.clear_faults,
            ('GET', 'pages'): lambda b: w.paging.list(),
            ('POST', 'pages'): self.configure_pages,
            ('GET', 'calls'): lambda b: w.journal.calls(),
            ('POST', 'calls/reset'): lambda b: w.journal.reset_calls() or {'ok': True},
            ('GET', 'requests'): lambda b: w.journal.requests(),
            ('POST', 'requests/clear'): lambda b: w.journal.clear_requests() or {'ok': True},
            ('GET', 'rejections'): lambda b: w.journal.rejections(),
        }

    def handle(self, req):
        name = req.path[len(PREFIX):].strip('/')
        route = self.routes.get((req.method, name))
        if route is None:
            return _reply(404, {'error': f'no admin route {req.method} {req.path}'})
        try:
            return _reply(200, route(self._body(req)))
        except AdminError as e:
            return _reply(e.status, {'error': str(e)})
        except (ValueError, KeyError, TypeError) as e:
            return _reply(400, {'error': str(e)})

    def _body(self, req):
        if req.method != 'POST' or not req.body.strip():
            return {}
        try:
            body = json.loads(req.body)
        except ValueError as e:
            raise AdminError(400, f'the body is not JSON: {e}') from None
        if not isinstance(body, dict):
            raise AdminError(400, 'the body must be a JSON object')
        return body

    def add_credential(self, b):
        unknown = set(b) - CREDENTIAL_KEYS
        if unknown:
            raise AdminError(400, f'unknown credential fields: {", ".join(sorted(unknown))}')
        self.world.creds.register(Credential(
            _need(b, 'access_key_id'), _need(b, 'secret_access_key'), b.get('session_token'),
            b.get('expires_at_unix'), b.get('arn')))
        return {'ok': True}

    def create_namespace(self, b):
        ns = self.world.cloudmap.create_namespace(b)
        return {'Id': ns.id, 'Arn': ns.arn}

    def delete_namespace(self, b):
        self.world.cloudmap.delete_namespace(_need(b, 'Id'))
        return {'ok': True}

    def create_service(self, b):
        srv = self.world.cloudmap.create_service(b)
        return {'Id': srv.id, 'Arn': srv.arn, 'Revision': srv.revision}

    def delete_service(self, b):
        self.world.cloudmap.delete_service(_need(b, 'Id'))
        return {'ok': True}

    def _service(self, b):
        cm = self.world.cloudmap
        if 'ServiceId' in b:
            srv = cm.service(b['ServiceId'])
        else:
            ns = next((n for n in cm.namespaces.values()
                       if n.name == b.get('NamespaceName')), None)
            srv = cm.find_service(ns, b.get('ServiceName')) if ns else None
        if srv is None:
            raise AdminError(404, 'no such service (give ServiceId, or NamespaceName and '
                             'ServiceName)')
        return srv

    def register(self, b):
        _only(b, INSTANCE_KEYS + ('Attributes', 'HealthStatus'))
        with self.world.lock:
            srv = self._service(b)
            attrs = b.get('Attributes', {})
            if not isinstance(attrs, dict):
                raise AdminError(400, 'Attributes must be an object of strings')
            health = b.get('HealthStatus')
            if health is not None and health not in ('HEALTHY', 'UNHEALTHY', 'UNKNOWN'):
                raise AdminError(400, 'HealthStatus must be HEALTHY, UNHEALTHY or UNKNOWN')
            self.world.cloudmap.register(srv, _need(b, 'InstanceId'), attrs, health)
            return {'Revision': srv.revision}

    def deregister(self, b):
        _only(b, INSTANCE_KEYS)
        with self.world.lock:
            srv = self._service(b)
            if not self.world.cloudmap.deregister(srv, _need(b, 'InstanceId')):
                raise AdminError(404, f'no instance {b["InstanceId"]}')
            return {'Revision': srv.revision}

    def set_health(self, b):
        _only(b, INSTANCE_KEYS + ('HealthStatus',))
        with self.world.lock:
            srv = self._service(b)
            try:
                self.world.cloudmap.set_health(srv, _need(b, 'InstanceId'),
                                               _need(b, 'HealthStatus'))
            except KeyError:
                raise AdminError(404, f'no instance {b["InstanceId"]}') from None
            return {'Revision': srv.revision}

    def set_tags(self, b):
        _only(b, ('ResourceARN', 'Tags', 'Replace'))
        try:
            self.world.cloudmap.set_tags(_need(b, 'ResourceARN'), b.get('Tags', {}),
                                         bool(b.get('Replace', False)))
        except KeyError:
            raise AdminError(404, f'no resource {b["ResourceARN"]}') from None
        return {'ok': True}

    def clear_faults(self, b):
        _only(b, ('operation', 'id'))
        return {'cleared': self.world.faults.clear(b.get('operation'), b.get('id'))}

    def configure_pages(self, b):
        op = _need(b, 'operation')
        self.world.paging.configure(op, {k: v for k, v in b.items() if k != 'operation'})
        return self.world.paging.list()
