# SPDX-License-Identifier: Apache-2.0
"""cloudmap: the state of the fake Cloud Map.

Namespaces hold services, services hold instances. Each service has an
instances revision that moves when an instance is registered, deregistered
or its attributes change, and not when only its health changes (as Cloud
Map's DiscoverInstancesRevision does). RegisterInstance and
DeregisterInstance leave an operation that GetOperation reports.

The state loads from and dumps to one JSON document (see README.md). Every
method takes the world's lock; the objects it returns belong to the state
and must be read under that lock (the AWS pipeline runs each operation
holding it).
"""

import hashlib
import secrets
from dataclasses import dataclass, field

NAMESPACE_TYPES = ('HTTP', 'DNS_PRIVATE', 'DNS_PUBLIC')
HEALTH = ('HEALTHY', 'UNHEALTHY', 'UNKNOWN')
DEFAULT_CUSTOM_HEALTH = {'FailureThreshold': 1}

NAMESPACE_KEYS = {'Id', 'Arn', 'Name', 'Type', 'Description', 'HttpName', 'Tags', 'CreateDate',
                  'services'}
SERVICE_KEYS = {'Id', 'Arn', 'Name', 'NamespaceId', 'NamespaceName', 'Description', 'Tags',
                'HealthCheckCustomConfig', 'HealthCheckConfig', 'Revision', 'CreateDate',
                'instances'}
INSTANCE_KEYS = {'Id', 'InstanceId', 'Attributes', 'HealthStatus'}


@dataclass
class Instance:
    id: str
    attributes: dict
    health: str = 'HEALTHY'


@dataclass
class Service:
    id: str
    arn: str
    name: str
    namespace_id: str
    create_date: float
    description: str = None
    tags: dict = field(default_factory=dict)
    custom_health: dict = None
    health_check: dict = None
    revision: int = 1
    instances: dict = field(default_factory=dict)  # id -> Instance, in registration order

    @property
    def has_health_check(self):
        return self.custom_health is not None or self.health_check is not None


@dataclass
class Namespace:
    id: str
    arn: str
    name: str
    type: str
    http_name: str
    create_date: float
    description: str = None
    tags: dict = field(default_factory=dict)


@dataclass
class Operation:
    id: str
    type: str
    targets: dict
    create_date: float
    pending_polls: int = 0


def _check_keys(spec, allowed, what):
    if not isinstance(spec, dict):
        raise ValueError(f'a {what} must be a JSON object')
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f'unknown {what} fields: {", ".join(sorted(unknown))}')


def _tags(value):
    """Tags as a dict, from {"k": "v"} or [{"Key": "k", "Value": "v"}]."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {t['Key']: t['Value'] for t in value}
    if isinstance(value, dict):
        return dict(value)
    raise ValueError('Tags must be an object or a list of {Key, Value}')


def _attributes(value):
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError('Attributes must be an object of strings')
    return dict(value)


class CloudMap:
    def __init__(self, world):
        self.world = world
        self.reset()

    def reset(self):
        with self.world.lock:
            self.namespaces = {}  # id -> Namespace, in creation order
            self.services = {}  # id -> Service, in creation order
            self.operations = {}
            self.seq = 0

    def _new_id(self, prefix, name):
        self.seq += 1
        digest = hashlib.sha256(f'{prefix}:{self.seq}:{name}'.encode()).hexdigest()
        return f'{prefix}-{digest[:16]}'

    def _arn(self, kind, resource_id):
        return (f'arn:aws:servicediscovery:{self.world.region()}:{self.world.account_id()}'
                f':{kind}/{resource_id}')

    # Namespaces and services.

    def create_namespace(self, spec):
        """Creates a namespace (and the services spec lists); returns it."""
        _check_keys(spec, NAMESPACE_KEYS, 'namespace')
        name, ns_type = spec.get('Name'), spec.get('Type', 'HTTP')
        if not isinstance(name, str) or not name:
            raise ValueError('a namespace needs a Name')
        if ns_type not in NAMESPACE_TYPES:
            raise ValueError(f'namespace Type must be one of {", ".join(NAMESPACE_TYPES)}')
        with self.world.lock:
            ns_id = spec.get('Id') or self._new_id('ns', name)
            if ns_id in self.namespaces:
                raise ValueError(f'namespace {ns_id} exists')
            ns = Namespace(ns_id, spec.get('Arn') or self._arn('namespace', ns_id), name,
                           ns_type, spec.get('HttpName', name),
                           spec.get('CreateDate', self.world.now()), spec.get('Description'),
                           _tags(spec.get('Tags')))
            self.namespaces[ns_id] = ns
            for service in spec.get('services', []):
                self.create_service(dict(service, NamespaceId=ns_id))
            return ns

    def delete_namespace(self, ns_id):
        with self.world.lock:
            ns = self.namespace(ns_id)
            if ns is None:
                raise KeyError(ns_id)
            if any(s.namespace_id == ns.id for s in self.services.values()):
                raise ValueError(f'namespace {ns.id} still has services')
            del self.namespaces[ns.id]

    def create_service(self, spec):
        """Creates a service (and the instances spec lists); returns it."""
        _check_keys(spec, SERVICE_KEYS, 'service')
        with self.world.lock:
            ns = self._namespace_of(spec)
            name = spec.get('Name')
            if not isinstance(name, str) or not name:
                raise ValueError('a service needs a Name')
            if self.find_service(ns, name) is not None:
                raise ValueError(f'service {name} exists in namespace {ns.name}')
            srv_id = spec.get('Id') or self._new_id('srv', name)
            if srv_id in self.services:
                raise ValueError(f'service {srv_id} exists')
            srv = Service(srv_id, spec.get('Arn') or self._arn('service', srv_id), name, ns.id,
                          spec.get('CreateDate', self.world.now()), spec.get('Description'),
                          _tags(spec.get('Tags')),
                          spec.get('HealthCheckCustomConfig', DEFAULT_CUSTOM_HEALTH),
                          spec.get('HealthCheckConfig'), spec.get('Revision', 1))
            self.services[srv_id] = srv
            for inst in spec.get('instances', []):
                self._add_instance(srv, inst)
            return srv

    def _namespace_of(self, spec):
        if spec.get('NamespaceId'):
            ns = self.namespace(spec['NamespaceId'])
        else:
            ns = next((n for n in self.namespaces.values()
                       if n.name == spec.get('NamespaceName')), None)
        if ns is None:
            raise ValueError('the service needs an existing NamespaceId or NamespaceName')
        return ns

    def _add_instance(self, srv, spec):
        _check_keys(spec, INSTANCE_KEYS, 'instance')
        inst_id = spec.get('Id') or spec.get('InstanceId')
        health = spec.get('HealthStatus', 'HEALTHY')
        if not isinstance(inst_id, str) or not inst_id or health not in HEALTH:
            raise ValueError('an instance needs an Id and a HealthStatus among '
                             + ', '.join(HEALTH))
        srv.instances[inst_id] = Instance(inst_id, _attributes(spec.get('Attributes', {})),
                                          health)

    def delete_service(self, srv_id):
        with self.world.lock:
            srv = self.service(srv_id)
            if srv is None:
                raise KeyError(srv_id)
            del self.services[srv.id]

    def namespace(self, ref):
        """The namespace with this Id or ARN, or None."""
        with self.world.lock:
            return self.namespaces.get(ref) or next(
                (n for n in self.namespaces.values() if n.arn == ref), None)

    def service(self, ref):
        """The service with this Id or ARN, or None."""
        with self.world.lock:
            return self.services.get(ref) or next(
                (s for s in self.services.values() if s.arn == ref), None)

    def find_namespace_by_http_name(self, http_name):
        with self.world.lock:
            return next((n for n in self.namespaces.values() if n.http_name == http_name), None)

    def find_service(self, ns, name):
        with self.world.lock:
            return next((s for s in self.services.values()
                         if s.namespace_id == ns.id and s.name == name), None)

    def services_in(self, ns_id):
        with self.world.lock:
            return [s for s in self.services.values() if s.namespace_id == ns_id]

    # Instances.

    def register(self, srv, inst_id, attributes, health=None):
        """Registers or updates an instance; the revision moves when the
        instance is new or its attributes changed. Health defaults to the
        AWS_INIT_HEALTH_STATUS attribute, else HEALTHY."""
        with self.world.lock:
            old = srv.instances.get(inst_id)
            if health is None:
                health = old.health if old else attributes.get('AWS_INIT_HEALTH_STATUS',
                                                               'HEALTHY')
            if old is None or old.attributes != attributes:
                srv.revision += 1
            srv.instances[inst_id] = Instance(inst_id, dict(attributes), health)

    def deregister(self, srv, inst_id):
        """Removes an instance; returns False when it was not registered."""
        with self.world.lock:
            if srv.instances.pop(inst_id, None) is None:
                return False
            srv.revision += 1
            return True

    def set_health(self, srv, inst_id, health):
        """Sets an instance's health; the revision does not move."""
        if health not in HEALTH:
            raise ValueError('HealthStatus must be one of ' + ', '.join(HEALTH))
        with self.world.lock:
            inst = srv.instances.get(inst_id)
            if inst is None:
                raise KeyError(inst_id)
            inst.health = health

    # Tags and operations.

    def resource(self, arn):
        """The namespace or service with this ARN, or None."""
        with self.world.lock:
            return next((r for r in list(self.namespaces.values()) + list(self.services.values())
                         if r.arn == arn), None)

    def set_tags(self, arn, tags, replace=False):
        with self.world.lock:
            res = self.resource(arn) or self.namespace(arn) or self.service(arn)
            if res is None:
                raise KeyError(arn)
            if replace:
                res.tags = {}
            res.tags.update(_tags(tags))

    def new_operation(self, op_type, targets):
        with self.world.lock:
            op_id = f'{secrets.token_hex(16)}-{secrets.token_hex(4)}'
            self.operations[op_id] = Operation(op_id, op_type, targets, self.world.now(),
                                               self.world.setting('operation_pending_polls'))
            return op_id

    def operation(self, op_id):
        with self.world.lock:
            return self.operations.get(op_id)

    # The whole state as JSON.

    def load(self, state):
        """Replaces namespaces, services and instances with those of state
        ({"namespaces": [...]}); on ValueError the old state stays."""
        with self.world.lock:
            saved = (self.namespaces, self.services, self.operations, self.seq)
            self.reset()
            try:
                for ns in state.get('namespaces', []):
                    self.create_namespace(ns)
            except (ValueError, KeyError, TypeError) as e:
                self.namespaces, self.services, self.operations, self.seq = saved
                raise ValueError(f'bad state: {e}') from None

    def dump(self):
        with self.world.lock:
            return {'namespaces': [self._dump_namespace(ns) for ns in self.namespaces.values()]}

    def _dump_namespace(self, ns):
        out = {'Id': ns.id, 'Arn': ns.arn, 'Name': ns.name, 'Type': ns.type,
               'HttpName': ns.http_name, 'Tags': dict(ns.tags), 'CreateDate': ns.create_date}
        if ns.description is not None:
            out['Description'] = ns.description
        out['services'] = [self._dump_service(s) for s in self.services_in(ns.id)]
        return out

    def _dump_service(self, srv):
        out = {'Id': srv.id, 'Arn': srv.arn, 'Name': srv.name, 'Tags': dict(srv.tags),
               'HealthCheckCustomConfig': srv.custom_health, 'Revision': srv.revision,
               'CreateDate': srv.create_date}
        if srv.health_check is not None:
            out['HealthCheckConfig'] = srv.health_check
        if srv.description is not None:
            out['Description'] = srv.description
        out['instances'] = [{'Id': i.id, 'Attributes': dict(i.attributes),
                             'HealthStatus': i.health} for i in srv.instances.values()]
        return out
