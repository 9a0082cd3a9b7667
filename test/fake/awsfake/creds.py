# SPDX-License-Identifier: Apache-2.0
"""creds: the credentials signed requests may use, and where they come from.

CredentialStore holds every credential the AWS port accepts: the default
test credential, those registered through the admin API, and those the fake
hands out itself (STS AssumeRoleWithWebIdentity, the ECS endpoint, IMDS).
WebIdentity is the configuration STS checks web identity tokens against.
Both take the world's lock in every method.
"""

import secrets
import string
from dataclasses import asdict, dataclass

DEFAULT_ACCESS_KEY_ID = 'AKIAFAKETESTKEY00001'
DEFAULT_SECRET_ACCESS_KEY = 'fakeSecretAccessKeyForCloudmapSdTests0001'
DEFAULT_ARN_TEMPLATE = 'arn:aws:iam::{account}:user/fake-test'
DEFAULT_WEB_IDENTITY_TOKEN = 'fake-web-identity-token'

_UPPER_DIGITS = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + '+/'


@dataclass
class Credential:
    access_key_id: str
    secret_access_key: str
    session_token: str = None
    expires_at_unix: float = None
    arn: str = None
    source: str = 'admin'

    def public(self):
        return asdict(self)


def _random(chars, n):
    return ''.join(secrets.choice(chars) for _ in range(n))


class CredentialStore:
    def __init__(self, world):
        self.world = world
        self.by_key = {}

    def reset(self):
        with self.world.lock:
            self.by_key = {}
            self.register(Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
                                     source='default'))

    def register(self, cred):
        if not cred.access_key_id or not cred.secret_access_key:
            raise ValueError('access_key_id and secret_access_key must not be empty')
        with self.world.lock:
            if cred.arn is None:
                cred.arn = DEFAULT_ARN_TEMPLATE.format(account=self.world.account_id())
            self.by_key[cred.access_key_id] = cred

    def get(self, access_key_id):
        with self.world.lock:
            return self.by_key.get(access_key_id)

    def delete(self, access_key_id):
        with self.world.lock:
            return self.by_key.pop(access_key_id, None) is not None

    def list(self):
        with self.world.lock:
            return [c.public() for c in self.by_key.values()]

    def issue(self, source, ttl_sec, arn):
        """Creates, registers and returns a new temporary credential."""
        cred = Credential('ASIA' + _random(_UPPER_DIGITS, 16), _random(_SECRET_CHARS, 40),
                          'FQoGZXIvYXdzE' + _random(_SECRET_CHARS, 120),
                          self.world.now() + ttl_sec, arn, source)
        self.register(cred)
        return cred


WEB_IDENTITY_DEFAULTS = {
    'token': DEFAULT_WEB_IDENTITY_TOKEN,  # the only token accepted
    'role_arn': None,  # when set, the only RoleArn accepted (else AccessDenied)
    'token_expired': False,  # answer ExpiredTokenException
    'credentials_ttl_sec': None,  # overrides DurationSeconds (e.g. short-lived credentials)
    'subject': 'system:serviceaccount:default:cloudmap-sd',
    'audience': 'sts.amazonaws.com',
    'provider': 'arn:aws:iam::123456789012:oidc-provider/oidc.fake.example',
}


class WebIdentity:
    def __init__(self, world):
        self.world = world
        self.config = {}

    def reset(self):
        with self.world.lock:
            self.config = dict(WEB_IDENTITY_DEFAULTS)

    def update(self, changes):
        unknown = set(changes) - set(WEB_IDENTITY_DEFAULTS)
        if unknown:
            raise ValueError(f'unknown web identity settings: {", ".join(sorted(unknown))}')
        with self.world.lock:
            self.config.update(changes)

    def get(self):
        with self.world.lock:
            return dict(self.config)


class Issuer:
    """The credential a metadata endpoint (ECS, IMDS) currently hands out:
    the same one until it expires, or a new one every time when rotating,
    as the real endpoints refresh theirs."""

    def __init__(self, world, source):
        self.world = world
        self.source = source
        self.current = None

    def reset(self):
        with self.world.lock:
            self.current = None

    def credential(self, ttl_sec, arn, rotate):
        with self.world.lock:
            cur = self.current
            if rotate or cur is None or cur.expires_at_unix <= self.world.now() \
                    or self.world.creds.get(cur.access_key_id) is not cur:
                self.current = self.world.creds.issue(self.source, ttl_sec, arn)
            return self.current
