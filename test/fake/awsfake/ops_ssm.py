# SPDX-License-Identifier: Apache-2.0
"""ops_ssm: the SSM operation the daemon uses (GetParameter), as AWS does.

Handlers take (ctx, params), return the output dict or raise AwsError; the
pipeline calls them holding the world's lock.
"""

import base64

from .errors import AwsError


def get_parameter(ctx, p):
    param = ctx.world.parameters.get(p['Name'])
    if param is None:
        raise AwsError('ParameterNotFound', '')
    value = param.value
    if param.type == 'SecureString' and not p.get('WithDecryption', False):
        value = base64.b64encode(b'fake-kms-ciphertext:' + value.encode()).decode()
    return {'Parameter': {
        'Name': param.name, 'Type': param.type, 'Value': value, 'Version': param.version,
        'LastModifiedDate': param.last_modified, 'ARN': ctx.world.parameters.arn(param.name),
        'DataType': 'text'}}


OPERATIONS = {
    'GetParameter': get_parameter,
}
