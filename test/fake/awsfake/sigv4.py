# SPDX-License-Identifier: Apache-2.0
"""sigv4: verifies the AWS Signature Version 4 of a request.

The request is rebuilt as a botocore AWSRequest (same method, URL, headers,
body) and signed again with botocore's own SigV4Auth, with the credential
the access key id names, the service and region of the credential scope,
the request's X-Amz-Date as the signing time, and exactly the headers the
client listed in SignedHeaders. Any difference is the client's bug.

verify() takes the credential lookup as a function, so this module holds no
state; it raises errors.AuthError, whose kind protocol.py maps to the
service's error code.
"""

import calendar
import hashlib
import hmac
import re
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.compat import HTTPHeaders

from .errors import AuthError

ALGORITHM = 'AWS4-HMAC-SHA256'
AMZ_DATE_RE = re.compile(r'^\d{8}T\d{6}Z$')
MISMATCH = ('The request signature we calculated does not match the signature you provided. '
            'Check your AWS Secret Access Key and signing method. '
            'Consult the service documentation for details.')


class _ListedHeadersSigV4(botocore.auth.SigV4Auth):
    """botocore's signer restricted to the headers the client signed (the
    stock one signs every header but a few)."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed_headers = set(signed_headers)

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed_headers:
                header_map[name.lower()] = value
        return header_map


def parse_authorization(value):
    """Returns (access_key_id, date, region, service, signed_headers list,
    signature) from an Authorization header; raises AuthError."""
    if not value.startswith(ALGORITHM + ' '):
        raise AuthError('incomplete', f"Authorization header must use {ALGORITHM}")
    fields = {}
    for part in value[len(ALGORITHM) + 1:].split(','):
        key, sep, val = part.strip().partition('=')
        if sep:
            fields[key] = val
    missing = [k for k in ('Credential', 'SignedHeaders', 'Signature') if not fields.get(k)]
    if missing:
        raise AuthError('incomplete', ' '.join(
            f"Authorization header requires '{k}' parameter." for k in missing))
    scope = fields['Credential'].split('/')
    if len(scope) != 5 or scope[4] != 'aws4_request':
        raise AuthError('incomplete', 'Credential must have the form '
                        'ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, not '
                        f"'{fields['Credential']}'")
    signed = fields['SignedHeaders'].split(';')
    return (*scope[:4], signed, fields['Signature'])


def _amz_date(req):
    value = req.header('X-Amz-Date')
    if value is None:
        raise AuthError('incomplete', "Authorization header requires existence of either a "
                        "'X-Amz-Date' or a 'Date' header.")
    if not AMZ_DATE_RE.match(value):
        raise AuthError('incomplete', f"X-Amz-Date '{value}' is not in the ISO 8601 basic "
                        'format YYYYMMDDTHHMMSSZ')
    return value


def _check_signed_headers(req, signed, required):
    for name in required:
        if name not in signed:
            raise AuthError('signature', f"'{name}' must be a 'SignedHeader' in the "
                            'AWS Authorization.')
    present = {k.lower() for k, _ in req.headers}
    for name in signed:
        if name not in present:
            raise AuthError('signature', f"The signed header '{name}' is not in the request.")


def _check_scope(date, region, service, amz_date, want_region, want_service):
    if date != amz_date[:8]:
        raise AuthError('signature', 'Date in Credential scope does not match YYYYMMDD from '
                        f"ISO-8601 version of date from HTTP: '{date}' != '{amz_date[:8]}', "
                        "from 'x-amz-date'.")
    if region != want_region:
        raise AuthError('signature', 'Credential should be scoped to a valid region, '
                        f"not '{region}'. ")
    if service != want_service:
        raise AuthError('signature', 'Credential should be scoped to correct service: '
                        f"'{want_service}'. ")


def _check_credential(cred, akid, req, now):
    if cred is None:
        raise AuthError('unknown_key', 'The security token included in the request is invalid.',
                        {'access_key_id': akid})
    token = req.header('X-Amz-Security-Token')
    if token != cred.session_token:
        raise AuthError('bad_token', 'The security token included in the request is invalid.',
                        {'access_key_id': akid, 'token_sent': token is not None,
                         'token_expected': cred.session_token is not None})
    if cred.expires_at_unix is not None and cred.expires_at_unix <= now:
        raise AuthError('expired_token', 'The security token included in the request is expired')


def _check_payload_hash(req):
    claimed = req.header('X-Amz-Content-SHA256')
    if claimed is not None and claimed != hashlib.sha256(req.body).hexdigest():
        raise AuthError('signature', "The provided 'x-amz-content-sha256' header does not "
                        'match what was computed.')


def _expected_signature(req, cred, amz_date, region, service, signed):
    host = req.header('Host') or ''
    aws_req = botocore.awsrequest.AWSRequest(
        method=req.method, url=f'{req.scheme}://{host}{req.target}',
        headers=_headers(req), data=req.body)
    aws_req.context['timestamp'] = amz_date
    signer = _ListedHeadersSigV4(
        botocore.credentials.Credentials(cred.access_key_id, cred.secret_access_key,
                                         cred.session_token), service, region, signed)
    canonical = signer.canonical_request(aws_req)
    string_to_sign = signer.string_to_sign(aws_req, canonical)
    return signer.signature(string_to_sign, aws_req), canonical, string_to_sign


def _headers(req):
    headers = HTTPHeaders()
    for name, value in req.headers:
        headers[name] = value
    return headers


def _check_skew(amz_date, now, window_sec):
    signed_at = calendar.timegm(time.strptime(amz_date, '%Y%m%dT%H%M%SZ'))
    fmt = lambda t: time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(t))  # noqa: E731
    minutes = window_sec // 60
    if signed_at < now - window_sec:
        raise AuthError('expired_signature', f'Signature expired: {amz_date} is now earlier '
                        f'than {fmt(now - window_sec)} ({fmt(now)} - {minutes} min.)')
    if signed_at > now + window_sec:
        raise AuthError('expired_signature', f'Signature not yet current: {amz_date} is still '
                        f'later than {fmt(now + window_sec)} ({fmt(now)} + {minutes} min.)')


def verify(req, lookup, want_region, want_service, now, required_headers, window_sec):
    """Verifies req's signature. lookup(access_key_id) returns the registered
    credential (with access_key_id, secret_access_key, session_token,
    expires_at_unix) or None. Returns that credential; raises AuthError."""
    value = req.header('Authorization')
    if value is None:
        raise AuthError('missing', 'Missing Authentication Token')
    akid, date, region, service, signed, signature = parse_authorization(value)
    amz_date = _amz_date(req)
    _check_signed_headers(req, signed, required_headers)
    _check_scope(date, region, service, amz_date, want_region, want_service)
    cred = lookup(akid)
    _check_credential(cred, akid, req, now)
    _check_payload_hash(req)
    expected, canonical, string_to_sign = _expected_signature(req, cred, amz_date, region,
                                                              service, signed)
    if not hmac.compare_digest(expected, signature):
        message = (f"{MISMATCH}\n\nThe Canonical String for this request should have been\n"
                   f"'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n")
        raise AuthError('signature', message, {'canonical_request': canonical,
                                               'string_to_sign': string_to_sign})
    _check_skew(amz_date, now, window_sec)
    return cred
