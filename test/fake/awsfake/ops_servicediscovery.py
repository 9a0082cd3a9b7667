# SPDX-License-Identifier: Apache-2.0
"""ops_servicediscovery: Cloud Map operations, answered as AWS does.

Each handler takes (ctx, params) and returns the output as a dict shaped
like the operation's output in the service model, or raises AwsError. The
pipeline (aws.py) calls them holding the world's lock.
"""

from .errors import AwsError, invalid_input

DEFAULT_LIST_MAX = 100  # ListNamespaces, ListServices without MaxResults
DEFAULT_DISCOVER_MAX = 100  # DiscoverInstances without MaxResults (the model allows 1000)

NAMESPACE_FILTERS = {'TYPE': ('EQ', 'BEGINS_WITH'), 'NAME': ('EQ', 'BEGINS_WITH'),
                     'HTTP_NAME': ('EQ', 'BEGINS_WITH'), 'RESOURCE_OWNER': ('EQ',)}
SERVICE_FILTERS = {'NAMESPACE_ID': ('EQ', 'IN'), 'RESOURCE_OWNER': ('EQ',)}


def _not_found(code, message):
    return AwsError(code, message)


def _check_filters(filters, allowed):
    for f in filters:
        cond = f.get('Condition', 'EQ')
        if cond not in allowed[f['Name']]:
            raise invalid_input(f"Condition {cond} is not supported for filter {f['Name']}; "
                                f"use {' or '.join(allowed[f['Name']])}.")
        if cond != 'IN' and len(f['Values']) != 1:
            raise invalid_input(f"Filter {f['Name']} with condition {cond} takes exactly one "
                                'value.')


def _matches(filters, fields):
    """fields maps a filter name to the value it tests, or to a tuple of
    values any of which may match (a namespace is named by its id or ARN)."""
    for f in filters:
        have, cond, values = fields[f['Name']], f.get('Condition', 'EQ'), f['Values']
        names = have if isinstance(have, tuple) else (have,)
        if cond == 'EQ' and values[0] not in names:
            return False
        if cond == 'IN' and not any(v in values for v in names):
            return False
        if cond == 'BEGINS_WITH' and not any(n.startswith(values[0]) for n in names):
            return False
    return True


def _properties(ns):
    dns = {'SOA': {}}
    if ns.type != 'HTTP':
        dns = {'HostedZoneId': 'Z' + ns.id[3:19].upper(), 'SOA': {'TTL': 15}}
    return {'DnsProperties': dns, 'HttpProperties': {'HttpName': ns.http_name}}


def _namespace(ctx, ns):
    out = {'Id': ns.id, 'Arn': ns.arn, 'ResourceOwner': ctx.account, 'Name': ns.name,
           'Type': ns.type, 'ServiceCount': len(ctx.cloudmap.services_in(ns.id)),
           'Properties': _properties(ns), 'CreateDate': ns.create_date}
    if ns.description is not None:
        out['Description'] = ns.description
    return out


def _service(ctx, srv, with_namespace_id=False):
    ns = ctx.cloudmap.namespace(srv.namespace_id)
    out = {'Id': srv.id, 'Arn': srv.arn, 'ResourceOwner': ctx.account, 'Name': srv.name,
           'Type': 'HTTP' if ns.type == 'HTTP' else 'DNS_HTTP',
           'InstanceCount': len(srv.instances), 'CreateDate': srv.create_date,
           'CreatedByAccount': ctx.account}
    if with_namespace_id:
        out['NamespaceId'] = srv.namespace_id
    if ns.type != 'HTTP':
        out['DnsConfig'] = {'NamespaceId': ns.id, 'RoutingPolicy': 'MULTIVALUE',
                            'DnsRecords': [{'Type': 'A', 'TTL': 60}]}
    for key, value in (('Description', srv.description), ('HealthCheckConfig', srv.health_check),
                       ('HealthCheckCustomConfig', srv.custom_health)):
        if value is not None:
            out[key] = value
    return out


def list_namespaces(ctx, p):
    filters = p.get('Filters', [])
    _check_filters(filters, NAMESPACE_FILTERS)
    items = [ns for ns in ctx.cloudmap.namespaces.values() if _matches(filters, {
        'TYPE': ns.type, 'NAME': ns.name, 'HTTP_NAME': ns.http_name,
        'RESOURCE_OWNER': ctx.account})]
    page, token = ctx.paging.paginate('ListNamespaces', items, p.get('MaxResults'),
                                      DEFAULT_LIST_MAX, p.get('NextToken'), filters)
    out = {'Namespaces': [_namespace(ctx, ns) for ns in page]}
    if token:
        out['NextToken'] = token
    return out


def list_services(ctx, p):
    filters = p.get('Filters', [])
    _check_filters(filters, SERVICE_FILTERS)
    # AWS takes a namespace's id or its ARN (the ARN for a shared one).
    items = [s for s in ctx.cloudmap.services.values() if _matches(filters, {
        'NAMESPACE_ID': (s.namespace_id, ctx.cloudmap.namespace(s.namespace_id).arn),
        'RESOURCE_OWNER': ctx.account})]
    page, token = ctx.paging.paginate('ListServices', items, p.get('MaxResults'),
                                      DEFAULT_LIST_MAX, p.get('NextToken'), filters)
    out = {'Services': [_service(ctx, s) for s in page]}
    if token:
        out['NextToken'] = token
    return out


def get_namespace(ctx, p):
    ns = ctx.cloudmap.namespace(p['Id'])
    if ns is None:
        raise _not_found('NamespaceNotFound', f"Namespace not found: {p['Id']}")
    return {'Namespace': _namespace(ctx, ns)}


def get_service(ctx, p):
    srv = ctx.cloudmap.service(p['Id'])
    if srv is None:
        raise _not_found('ServiceNotFound', f"Service not found: {p['Id']}")
    return {'Service': _service(ctx, srv, with_namespace_id=True)}


def list_tags_for_resource(ctx, p):
    res = ctx.cloudmap.resource(p['ResourceARN'])
    if res is None:
        raise _not_found('ResourceNotFoundException',
                         f"The operation can't be completed because the resource was not "
                         f"found: {p['ResourceARN']}")
    return {'Tags': [{'Key': k, 'Value': v} for k, v in res.tags.items()]}


def _discover_target(ctx, p):
    if p.get('OwnerAccount', ctx.account) != ctx.account:
        raise _not_found('NamespaceNotFound', f"Namespace not found: {p['NamespaceName']}")
    ns = ctx.cloudmap.find_namespace_by_http_name(p['NamespaceName'])
    if ns is None:
        raise _not_found('NamespaceNotFound', f"Namespace not found: {p['NamespaceName']}")
    srv = ctx.cloudmap.find_service(ns, p['ServiceName'])
    if srv is None:
        raise _not_found('ServiceNotFound', f"Service not found: {p['ServiceName']}")
    return ns, srv


def _has_all(inst, wanted):
    return all(inst.attributes.get(k) == v for k, v in wanted.items())


def _by_health(srv, instances, status):
    if not srv.has_health_check or status == 'ALL':
        return instances
    healthy = [i for i in instances if i.health == 'HEALTHY']
    if status == 'HEALTHY':
        return healthy
    if status == 'UNHEALTHY':
        return [i for i in instances if i.health == 'UNHEALTHY']
    return healthy or instances  # HEALTHY_OR_ELSE_ALL


def discover_instances(ctx, p):
    ns, srv = _discover_target(ctx, p)
    found = [i for i in srv.instances.values() if _has_all(i, p.get('QueryParameters', {}))]
    optional = [i for i in found if _has_all(i, p.get('OptionalParameters', {}))]
    found = optional or found
    found = _by_health(srv, found, p.get('HealthStatus', 'HEALTHY'))
    found = found[:p.get('MaxResults', DEFAULT_DISCOVER_MAX)]
    return {'Instances': [{
        'InstanceId': i.id, 'NamespaceName': ns.http_name, 'ServiceName': srv.name,
        'HealthStatus': i.health if srv.has_health_check else 'UNKNOWN',
        'Attributes': dict(i.attributes)} for i in found],
        'InstancesRevision': srv.revision}


def discover_instances_revision(ctx, p):
    _, srv = _discover_target(ctx, p)
    return {'InstancesRevision': srv.revision}


def _service_for_write(ctx, service_id):
    srv = ctx.cloudmap.service(service_id)
    if srv is None:
        raise _not_found('ServiceNotFound', f'Service not found: {service_id}')
    return srv


def register_instance(ctx, p):
    srv = _service_for_write(ctx, p['ServiceId'])
    ctx.cloudmap.register(srv, p['InstanceId'], p['Attributes'])
    op_id = ctx.cloudmap.new_operation('REGISTER_INSTANCE', {
        'INSTANCE': p['InstanceId'], 'SERVICE': srv.id})
    return {'OperationId': op_id}


def deregister_instance(ctx, p):
    srv = _service_for_write(ctx, p['ServiceId'])
    if not ctx.cloudmap.deregister(srv, p['InstanceId']):
        raise _not_found('InstanceNotFound', f"Instance not found: {p['InstanceId']}")
    op_id = ctx.cloudmap.new_operation('DEREGISTER_INSTANCE', {
        'INSTANCE': p['InstanceId'], 'SERVICE': srv.id})
    return {'OperationId': op_id}


def get_operation(ctx, p):
    op = ctx.cloudmap.operation(p['OperationId'])
    if op is None:
        raise _not_found('OperationNotFound', f"Operation not found: {p['OperationId']}")
    status = 'SUCCESS'
    if op.pending_polls > 0:
        op.pending_polls -= 1
        status = 'PENDING'
    return {'Operation': {'Id': op.id, 'OwnerAccount': ctx.account, 'Type': op.type,
                          'Status': status, 'CreateDate': op.create_date,
                          'UpdateDate': op.create_date, 'Targets': dict(op.targets)}}


OPERATIONS = {
    'ListNamespaces': list_namespaces,
    'ListServices': list_services,
    'GetNamespace': get_namespace,
    'GetService': get_service,
    'ListTagsForResource': list_tags_for_resource,
    'DiscoverInstances': discover_instances,
    'DiscoverInstancesRevision': discover_instances_revision,
    'RegisterInstance': register_instance,
    'DeregisterInstance': deregister_instance,
    'GetOperation': get_operation,
}
