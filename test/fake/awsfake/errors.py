# SPDX-License-Identifier: Apache-2.0
"""errors: the exceptions the AWS pipeline turns into error answers.

AwsError is an error an operation (or a protocol check) answers with: the
wire code, the message, and the HTTP status (None: the status the service
model gives the error, else 400). rejection=True marks an error that means
the client sent something AWS would refuse (bad input), as opposed to a
legitimate answer such as "not found"; rejections are logged apart.

AuthError is a failed authentication, by kind; protocol.py maps each kind
to the code and status of the service's protocol (JSON or query).
"""


class AwsError(Exception):
    def __init__(self, code, message, status=None, rejection=False):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message
        self.status = status
        self.rejection = rejection


class AuthError(Exception):
    # Kinds, mapped to wire codes in protocol.AUTH_ERRORS.
    KINDS = ('missing', 'incomplete', 'unknown_key', 'bad_token', 'expired_token',
             'signature', 'expired_signature')

    def __init__(self, kind, message, details=None):
        assert kind in self.KINDS
        super().__init__(f'{kind}: {message}')
        self.kind = kind
        self.message = message
        self.details = details or {}


def invalid_input(message):
    """Cloud Map's error for input its own rules refuse (a rejection)."""
    return AwsError('InvalidInput', message, rejection=True)
