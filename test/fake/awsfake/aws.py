# SPDX-License-Identifier: Apache-2.0
"""aws: the pipeline every request to the AWS port goes through.

  identify   which service and operation (protocol.identify)
  verify     the SigV4 signature (sigv4.verify), unless the operation is
             one AWS serves unsigned and the request carries no signature
  parse      the protocol's framing and body (protocol.check_and_parse)
  validate   the input against the model (models.validate)
  faults     the configured faults for the operation, if any
  operate    the operation's handler, holding the world's lock
Requests refused before the operation runs (and input errors the operation
itself finds) are rejections: AWS would refuse them too. Every request is
journaled with its verdict. Runs in the listener's connection threads; the
lock is never held while waiting or writing.
"""

import re
from dataclasses import dataclass

from . import faults, ops_servicediscovery, ops_ssm, ops_sts, protocol, sigv4
from .errors import AuthError, AwsError
from .models import ValidationFailed
from .server import Response

OPERATIONS = {
    'servicediscovery': ops_servicediscovery.OPERATIONS,
    'ssm': ops_ssm.OPERATIONS,
    'sts': ops_sts.OPERATIONS,
}
UNSIGNED = {('sts', op) for op in ops_sts.UNSIGNED}
# Headers a signature must cover, per protocol.
REQUIRED_SIGNED = {'json': ('host', 'x-amz-date', 'content-type', 'x-amz-target'),
                   'query': ('host', 'x-amz-date')}
# How far X-Amz-Date may be from the fake's clock: 5 minutes for the JSON
# services, 15 for STS, as AWS answers.
SKEW_WINDOW_SEC = {'json': 300, 'query': 900}
MALFORMED = {'json': b'{"Namespaces": [{"Id": "ns-',
             'query': b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/'}
CREDENTIAL_RE = re.compile(r'Credential=([^/,\s]+)/')


@dataclass
class Context:
    """What an operation handler gets besides its parameters."""
    world: object
    identity: object  # the verified creds.Credential, or None (unsigned)
    request_id: str

    @property
    def cloudmap(self):
        return self.world.cloudmap

    @property
    def paging(self):
        return self.world.paging

    @property
    def account(self):
        return self.world.account_id()

    @property
    def region(self):
        return self.world.region()


class AwsApp:
    def __init__(self, world):
        self.world = world
        self.models = world.models

    def handle(self, req):
        rid = protocol.new_request_id()
        call = protocol.identify(req, self.models)
        entry = self._entry(req, call, rid)
        if call.error:
            return self._reject(call, entry, call.error)
        try:
            identity = self._authenticate(call, req)
            params = protocol.check_and_parse(call, req, self.models)
            self.models.validate(call.op_model, params)
        except AuthError as e:
            return self._reject(call, entry, protocol.auth_error(call, e), e.details)
        except ValidationFailed as e:
            code = 'ValidationException' if call.protocol == 'json' else 'ValidationError'
            return self._reject(call, entry, AwsError(code, str(e), rejection=True))
        except AwsError as e:
            return self._reject(call, entry, e)
        entry['params'] = params
        return self._serve(req, call, entry, Context(self.world, identity, rid), params)

    def _entry(self, req, call, rid):
        match = CREDENTIAL_RE.search(req.header('Authorization') or '')
        return {'listener': 'aws', 'method': req.method, 'path': req.path,
                'service': call.service, 'operation': call.operation,
                'access_key_id': match.group(1) if match else None, 'request_id': rid}

    def _authenticate(self, call, req):
        if (call.service, call.operation) in UNSIGNED and req.header('Authorization') is None:
            return None
        signing_name = self.models.service(call.service).signing_name
        return sigv4.verify(req, self.world.creds.get, self.world.region(), signing_name,
                            self.world.now(), REQUIRED_SIGNED[call.protocol],
                            SKEW_WINDOW_SEC[call.protocol])

    def _error_response(self, call, err, rid):
        return protocol.render_error(call, self.models, err, rid,
                                     self.world.setting('error_type_prefix'))

    def _reject(self, call, entry, err, details=None):
        resp = self._error_response(call, err, entry['request_id'])
        self.world.journal.record(dict(entry, verdict='rejected', status=resp.status,
                                       error=err.code, message=err.message,
                                       details=details or {}))
        return resp

    def _serve(self, req, call, entry, ctx, params):
        resp, fault_kind = faults.serve(
            self.world, req, call.operation,
            lambda: self._operate(call, entry, ctx, params),
            lambda fault: self._fault_response(call, fault, ctx), params=params)
        return self._finish(entry, resp, fault_kind)

    def _fault_response(self, call, fault, ctx):
        if fault.kind == 'error':
            return self._error_response(call, AwsError(fault.code, fault.message or '',
                                                       status=fault.status), ctx.request_id)
        body = fault.body.encode() if fault.body is not None else MALFORMED[call.protocol]
        ctype = protocol.JSON_CONTENT_TYPE if call.protocol == 'json' else 'text/xml'
        return Response(fault.status, body, [('Content-Type', ctype),
                                             ('x-amzn-RequestId', ctx.request_id)])

    def _operate(self, call, entry, ctx, params):
        handler = OPERATIONS[call.service].get(call.operation)
        if handler is None:
            err = AwsError('NotImplementedByFake', f'the fake does not implement '
                           f'{call.service} {call.operation}', status=501, rejection=True)
            entry.update(verdict='rejected', error=err.code, message=err.message)
            return self._error_response(call, err, ctx.request_id)
        try:
            with self.world.lock:
                output = handler(ctx, params)
        except AwsError as err:
            entry.update(error=err.code, message=err.message)
            if err.rejection:
                entry['verdict'] = 'rejected'
            return self._error_response(call, err, ctx.request_id)
        return protocol.render_ok(call, self.models, output, ctx.request_id)

    def _finish(self, entry, resp, fault_kind):
        entry.setdefault('verdict', 'accepted')
        entry.update(status=resp.status, fault=fault_kind)
        self.world.journal.record(entry)
        return resp
