# SPDX-License-Identifier: Apache-2.0
"""faults: misbehaviour the admin API configures, per operation.

A fault applies to one operation name ("ListNamespaces"; the ECS and IMDS
fakes use "EcsCredentials", "EcsTaskMetadata", "ImdsToken", "ImdsGet") or to
"*" (every AWS-port operation), for count calls or, without a count, until
cleared. Kinds:
  error      answer status/code/message in the service's error format
  malformed  answer 200 with a body that is not valid JSON (or XML)
  truncate   announce the full Content-Length, send half the body, close
  close      close the connection without answering
  reset      abort the connection (RST)
  drip       send the real answer one byte at a time, delay_ms apart
  hang       answer nothing until the fault is cleared (then answer
             normally) or the client gives up
  latency    delay the real answer by delay_ms (adds up; not terminal)
A fault may also carry "match": an object of request parameters that must
all be equal in the call's input (e.g. {"ServiceName": "web"}), so one
service's calls fail while the others' succeed.
Faults apply only to requests that passed verification. Methods take the
world's lock; a hang waits on the fault's own event, outside the lock.
"""

import itertools
import threading
from dataclasses import dataclass, field

from .server import Response

KINDS = ('error', 'malformed', 'truncate', 'close', 'reset', 'drip', 'hang', 'latency')
SPEC_KEYS = {'operation', 'kind', 'count', 'status', 'code', 'message', 'body', 'delay_ms',
             'match'}
DEFAULTS = {
    'error': {'status': 500, 'code': 'InternalFailure',
              'message': 'We encountered an internal error. Please try again.'},
    'malformed': {'status': 200},  # body: the caller's, else one that breaks off
    'drip': {'delay_ms': 20},
}


@dataclass
class Fault:
    id: int
    operation: str
    kind: str
    remaining: int = None  # None: until cleared
    status: int = None
    code: str = None
    message: str = None
    body: str = None
    delay_ms: int = 0
    match: dict = None
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    def public(self):
        return {k: getattr(self, k) for k in ('id', 'operation', 'kind', 'remaining', 'status',
                                              'code', 'message', 'body', 'delay_ms', 'match')}

    def applies(self, params):
        """Whether this fault's match (if any) holds for the call's input."""
        return not self.match or all(
            isinstance(params, dict) and params.get(k) == v for k, v in self.match.items())


def _parse(spec, fault_id):
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ValueError(f'unknown fault fields: {", ".join(sorted(unknown))}')
    kind, op = spec.get('kind'), spec.get('operation')
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {", ".join(KINDS)}')
    if not isinstance(op, str) or not op:
        raise ValueError('operation must be an operation name or "*"')
    values = dict(DEFAULTS.get(kind, {}))
    values.update({k: v for k, v in spec.items() if k not in ('kind', 'operation', 'count')})
    count = spec.get('count')
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError('count must be a positive integer (or absent: until cleared)')
    for key in ('status', 'delay_ms'):
        if key in values and (not isinstance(values[key], int) or values[key] < 0):
            raise ValueError(f'{key} must be a non-negative integer')
    if values.get('match') is not None and not isinstance(values['match'], dict):
        raise ValueError('match must be an object of request parameters')
    if kind == 'latency' and not values.get('delay_ms'):
        raise ValueError('a latency fault needs delay_ms')
    return Fault(fault_id, op, kind, count, **values)


class FaultTable:
    def __init__(self, world):
        self.world = world
        self.faults = []
        self.ids = itertools.count(1)

    def reset(self):
        self.clear()

    def add(self, spec):
        """Adds a fault from its admin spec; returns its id. ValueError on a
        bad spec."""
        with self.world.lock:
            fault = _parse(spec, next(self.ids))
            self.faults.append(fault)
            return fault.id

    def clear(self, operation=None, fault_id=None):
        """Removes the faults matching (all when both are None), releasing
        any request they hold; returns how many were removed."""
        with self.world.lock:
            gone = [f for f in self.faults
                    if (operation is None or f.operation == operation)
                    and (fault_id is None or f.id == fault_id)]
            self.faults = [f for f in self.faults if f not in gone]
        for f in gone:
            f.released.set()
        return len(gone)

    def list(self):
        with self.world.lock:
            return [f.public() for f in self.faults]

    def take(self, operation, wildcard=True, params=None):
        """Consumes the faults for one call of operation with input params.
        Returns (the terminal fault or None, total latency in ms)."""
        latency_ms, terminal = 0, None
        with self.world.lock:
            for f in list(self.faults):
                if f.operation != operation and not (wildcard and f.operation == '*'):
                    continue
                if not f.applies(params):
                    continue
                if f.kind != 'latency' and terminal is not None:
                    continue
                if f.kind == 'latency':
                    latency_ms += f.delay_ms
                else:
                    terminal = f
                self._consume(f)
        return terminal, latency_ms

    def _consume(self, fault):
        if fault.remaining is None:
            return
        fault.remaining -= 1
        if fault.remaining == 0:
            self.faults.remove(fault)


def serve(world, req, operation, answer, render_fault, wildcard=True, params=None):
    """Answers one verified request under the faults for operation.
    answer() builds the real server.Response; render_fault(fault) builds
    the answer of an "error" or "malformed" fault. Returns (response, the
    fault kind that applied or None)."""
    fault, latency_ms = world.faults.take(operation, wildcard, params)
    if latency_ms and req.wait(latency_ms / 1000.0) in ('gone', 'stopped'):
        return Response(0, transport='close'), 'latency'
    if fault is not None and fault.kind == 'hang':
        if req.wait(None, fault.released) != 'released':
            return Response(0, transport='close'), 'hang'
        fault = None
    if fault is None:
        return answer(), ('latency' if latency_ms else None)
    if fault.kind in ('error', 'malformed'):
        return render_fault(fault), fault.kind
    if fault.kind in ('close', 'reset'):
        return Response(0, transport=fault.kind), fault.kind
    resp = answer()  # truncate or drip the real answer
    resp.transport, resp.drip_delay_ms = fault.kind, fault.delay_ms
    return resp, fault.kind
