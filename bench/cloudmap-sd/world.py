#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""world: the Cloud Map the cloudmap-sd benchmarks discover, as a state
document for the AWS fake (test/fake/README.md, "The state document").

  world.py SERVICES INSTANCES [--namespaces N]  > state.json

SERVICES services spread over N HTTP namespaces ("bench-0", ...; one by
default), INSTANCES instances each, as ECS registers them (the attributes
ECS service discovery writes, plus three a team adds: 12 in all) and with
the tags a platform team sets (METRICS_PATH/METRICS_PORT, the opt-in, and
five more). Every attribute and tag becomes a label, so a target carries 28
labels and about 1.6 KB of JSON. Deterministic: the same arguments give the
same bytes.
"""

import argparse
import json
import sys

AZS = ('us-east-1a', 'us-east-1b', 'us-east-1c')


def instance(svc, i):
    task = f'{svc:02d}{i:06d}'.rjust(32, '0')
    return {
        'Id': f'{task}',
        'Attributes': {
            'AWS_INSTANCE_IPV4': f'10.{svc % 256}.{i // 256}.{i % 256}',
            'AWS_INSTANCE_PORT': '8080',
            'AVAILABILITY_ZONE': AZS[i % len(AZS)],
            'AWS_INIT_HEALTH_STATUS': 'HEALTHY',
            'ECS_CLUSTER_NAME': 'prod-cluster',
            'ECS_SERVICE_NAME': f'svc-{svc:02d}',
            'ECS_TASK_DEFINITION_FAMILY': f'svc-{svc:02d}-task',
            'REGION': 'us-east-1',
            'EC2_INSTANCE_ID': f'i-{(i // 8):017x}',
            'version': f'1.{i % 7}.{svc}',
            'commit': f'{(svc * 7919 + i * 104729) & 0xffffffffff:010x}',
            'owner': 'team-observability',
        },
    }


def service(svc, n_instances):
    return {
        'Name': f'svc-{svc:02d}',
        'Tags': {
            'METRICS_PATH': '/metrics',
            'METRICS_PORT': '9100',
            'team': 'observability',
            'env': 'production',
            'cost-center': f'cc-{1000 + svc}',
            'app': f'app-{svc:02d}',
            'tier': 'backend',
        },
        'instances': [instance(svc, i) for i in range(n_instances)],
    }


def world(n_services, n_instances, n_namespaces):
    namespaces = [{'Name': f'bench-{n}', 'Type': 'HTTP', 'services': []}
                  for n in range(n_namespaces)]
    for s in range(n_services):
        namespaces[s % n_namespaces]['services'].append(service(s, n_instances))
    return {'namespaces': namespaces}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('services', type=int)
    p.add_argument('instances', type=int)
    p.add_argument('--namespaces', type=int, default=1)
    a = p.parse_args()
    if not (1 <= a.namespaces <= a.services <= 1000 and 0 <= a.instances <= 1000):
        p.error('need 1 <= namespaces <= services <= 1000 and instances <= 1000')
    json.dump(world(a.services, a.instances, a.namespaces), sys.stdout, separators=(',', ':'))
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
