# SPDX-License-Identifier: Apache-2.0
"""parameters: the state of the fake SSM Parameter Store.

Parameters by name, each with its type, value and a version that grows on
every put. Methods take the world's lock.
"""

from dataclasses import dataclass

TYPES = ('String', 'StringList', 'SecureString')
PARAMETER_KEYS = {'Name', 'Value', 'Type'}


@dataclass
class Parameter:
    name: str
    value: str
    type: str
    version: int
    last_modified: float


class ParameterStore:
    def __init__(self, world):
        self.world = world
        self.params = {}

    def reset(self):
        with self.world.lock:
            self.params = {}

    def put(self, spec):
        """Creates or overwrites a parameter from {Name, Value, Type?}."""
        if not isinstance(spec, dict) or set(spec) - PARAMETER_KEYS:
            raise ValueError(f'a parameter has the fields {", ".join(sorted(PARAMETER_KEYS))}')
        name, value, ptype = spec.get('Name'), spec.get('Value'), spec.get('Type', 'String')
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise ValueError('a parameter needs a Name and a string Value')
        if ptype not in TYPES:
            raise ValueError(f'parameter Type must be one of {", ".join(TYPES)}')
        with self.world.lock:
            old = self.params.get(name)
            self.params[name] = Parameter(name, value, ptype, old.version + 1 if old else 1,
                                          self.world.now())

    def delete(self, name):
        with self.world.lock:
            return self.params.pop(name, None) is not None

    def get(self, name):
        with self.world.lock:
            return self.params.get(name)

    def arn(self, name):
        path = name if name.startswith('/') else '/' + name
        return f'arn:aws:ssm:{self.world.region()}:{self.world.account_id()}:parameter{path}'

    def load(self, specs):
        if not isinstance(specs, list):
            raise ValueError('ssm_parameters must be a list')
        with self.world.lock:
            self.params = {}
            for spec in specs:
                self.put(spec)

    def dump(self):
        with self.world.lock:
            return [{'Name': p.name, 'Value': p.value, 'Type': p.type}
                    for p in self.params.values()]
