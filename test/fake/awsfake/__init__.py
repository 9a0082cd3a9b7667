# SPDX-License-Identifier: Apache-2.0
"""awsfake: local fakes of the AWS endpoints cloudmap-sd talks to.

One process serves three listeners on 127.0.0.1 (ports chosen by the OS):
the AWS port (Cloud Map control and data plane, SSM, STS, plus the admin
API under /_fake/), the ECS container credentials and task metadata
endpoint, and the EC2 instance metadata service (IMDSv2).

Every AWS request is verified as AWS would: SigV4 recomputed with
botocore's own signer, the operation and its input checked against
botocore's service models. Rejections are kept for tests to assert on.

Modules:
  world       the shared state root: one lock, the clock, the settings
  server      HTTP plumbing: listeners, request/response, transport faults
  models      botocore service models (+ overlay), input validation
  protocol    wire formats: JSON 1.1 and query/XML in and out
  sigv4       signature verification
  creds       registered credentials, credential issuing, web identity
  journal     request log, rejections, per-operation counters
  faults      configured faults
  paging      page sizes and NextToken handling
  cloudmap    Cloud Map state; parameters: SSM parameter store state
  ops_*       operations per service
  aws         the AWS-port pipeline; ecs, imds: the metadata fakes
  admin       the admin API
  app         builds and runs everything (class Fake)
"""

from .app import Fake

__all__ = ['Fake']
