# SPDX-License-Identifier: Apache-2.0
"""ops_sts: the STS operations the daemon uses, as AWS does.

AssumeRoleWithWebIdentity (unsigned) checks the token and role against the
web identity configuration and hands out temporary credentials, registered
so that later signed calls with them pass. GetCallerIdentity (signed) tells
who signed. Handlers take (ctx, params), return the output dict (rendered
as XML by protocol.py) or raise AwsError; called holding the world's lock.
"""

import secrets
import string

from .errors import AwsError

DEFAULT_DURATION_SEC = 3600


def assume_role_with_web_identity(ctx, p):
    cfg = ctx.world.web_identity.get()
    if p['WebIdentityToken'] != cfg['token']:
        raise AwsError('InvalidIdentityToken', 'The ID Token provided is not a valid JWT. '
                       '(You may see this error if you sent an Access Token)')
    if cfg['token_expired']:
        raise AwsError('ExpiredTokenException', 'Token expired: current date/time must be '
                       'before the expiration date/time')
    if cfg['role_arn'] is not None and p['RoleArn'] != cfg['role_arn']:
        raise AwsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
                       status=403)
    ttl = cfg['credentials_ttl_sec'] or p.get('DurationSeconds', DEFAULT_DURATION_SEC)
    role = p['RoleArn'].rsplit('/', 1)[-1]
    session = p['RoleSessionName']
    arn = f'arn:aws:sts::{ctx.account}:assumed-role/{role}/{session}'
    cred = ctx.world.creds.issue('sts', ttl, arn)
    role_id = 'AROA' + ''.join(secrets.choice(string.ascii_uppercase + string.digits)
                               for _ in range(17))
    return {
        'Credentials': {'AccessKeyId': cred.access_key_id,
                        'SecretAccessKey': cred.secret_access_key,
                        'SessionToken': cred.session_token,
                        'Expiration': cred.expires_at_unix},
        'SubjectFromWebIdentityToken': cfg['subject'],
        'AssumedRoleUser': {'Arn': arn, 'AssumedRoleId': f'{role_id}:{session}'},
        'Provider': cfg['provider'],
        'Audience': cfg['audience'],
    }


def get_caller_identity(ctx, p):
    arn = ctx.identity.arn
    return {'UserId': ctx.identity.access_key_id, 'Account': ctx.account, 'Arn': arn}


OPERATIONS = {
    'AssumeRoleWithWebIdentity': assume_role_with_web_identity,
    'GetCallerIdentity': get_caller_identity,
}

# Operations AWS serves without a signature.
UNSIGNED = {'AssumeRoleWithWebIdentity'}
