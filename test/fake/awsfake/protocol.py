# SPDX-License-Identifier: Apache-2.0
"""protocol: the wire formats of the AWS port.

identify() tells which service and operation a request is for: the JSON 1.1
services by their X-Amz-Target prefix (the model's targetPrefix), STS by a
form-encoded body with Action (the query protocol). check_and_parse() then
checks the protocol's framing (method, path, Content-Type, Version) and
turns the body into operation parameters. The render_* functions build
answers and errors in the service's protocol: JSON bodies with "__type", or
the query protocol's XML. Stateless; no lock needed.
"""

import json
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .errors import AwsError
from .server import Response

JSON_CONTENT_TYPE = 'application/x-amz-json-1.1'
FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'
STS_SERVICE = 'sts'

# How each authentication failure is answered, per protocol: (status, code).
# JSON services answer 400 for all of them, as the JSON 1.x AWS services do;
# STS (query) answers as its Common Errors say.
AUTH_ERRORS = {
    'missing': {'json': (400, 'MissingAuthenticationTokenException'),
                'query': (403, 'MissingAuthenticationToken')},
    'incomplete': {'json': (400, 'IncompleteSignatureException'),
                   'query': (400, 'IncompleteSignature')},
    'unknown_key': {'json': (400, 'UnrecognizedClientException'),
                    'query': (403, 'InvalidClientTokenId')},
    'bad_token': {'json': (400, 'UnrecognizedClientException'),
                  'query': (403, 'InvalidClientTokenId')},
    'expired_token': {'json': (400, 'ExpiredTokenException'),
                      'query': (400, 'ExpiredToken')},
    'signature': {'json': (400, 'InvalidSignatureException'),
                  'query': (403, 'SignatureDoesNotMatch')},
    'expired_signature': {'json': (400, 'InvalidSignatureException'),
                          'query': (403, 'SignatureDoesNotMatch')},
}


@dataclass
class Call:
    """What a request asks for. service is None when it cannot be told."""
    protocol: str  # "json" or "query"
    service: str = None
    operation: str = None
    op_model: object = None
    form: list = None  # the decoded form pairs of a query request
    error: AwsError = None  # set when the operation could not be determined


def new_request_id():
    return str(uuid.uuid4())


def media_type(req):
    return (req.header('Content-Type') or '').split(';', 1)[0].strip().lower()


def identify(req, models):
    if media_type(req) == FORM_CONTENT_TYPE:
        return _identify_query(req, models)
    target = req.header('X-Amz-Target')
    if target is None:
        return Call('json', error=AwsError('UnknownOperationException',
                                           'missing X-Amz-Target header', rejection=True))
    prefix, _, op_name = target.rpartition('.')
    service = models.by_target_prefix.get(prefix)
    if service is None:
        return Call('json', error=AwsError('UnknownOperationException',
                                           f'unknown target prefix {prefix!r}', rejection=True))
    call = Call('json', service, op_name, models.operation(service, op_name))
    if call.op_model is None:
        call.error = AwsError('UnknownOperationException',
                              f'{service} has no operation {op_name!r}', rejection=True)
    return call


def _identify_query(req, models):
    call = Call('query', STS_SERVICE)
    try:
        call.form = urllib.parse.parse_qsl(req.body.decode('utf-8'), keep_blank_values=True,
                                           strict_parsing=bool(req.body))
    except (UnicodeDecodeError, ValueError):
        call.error = AwsError('MalformedQueryString', 'the body is not a valid form',
                              status=400, rejection=True)
        return call
    action = dict(call.form).get('Action')
    if not action:
        call.error = AwsError('MissingAction', 'Missing Action', rejection=True)
        return call
    call.operation = action
    call.op_model = models.operation(STS_SERVICE, action)
    if call.op_model is None:
        call.error = AwsError('InvalidAction', f'Could not find operation {action} for '
                              f'version {models.service(STS_SERVICE).api_version}',
                              rejection=True)
    return call


def check_and_parse(call, req, models):
    """Checks the framing and returns the operation's parameters; raises a
    rejecting AwsError."""
    if req.method != 'POST' or req.path != '/':
        raise AwsError('UnknownOperationException' if call.protocol == 'json' else 'InvalidAction',
                       f'{call.service} expects POST /, not {req.method} {req.path}',
                       rejection=True)
    if call.protocol == 'json':
        return _parse_json(req)
    return _parse_query(call, models)


def _parse_json(req):
    if media_type(req) != JSON_CONTENT_TYPE:
        raise AwsError('UnknownOperationException',
                       f'Content-Type must be {JSON_CONTENT_TYPE}, not '
                       f'{req.header("Content-Type")!r}', rejection=True)
    if not req.body:
        return {}
    try:
        params = json.loads(req.body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise AwsError('SerializationException', f'the body is not valid JSON: {e}',
                       rejection=True) from None
    if not isinstance(params, dict):
        raise AwsError('SerializationException', 'the body must be a JSON object',
                       rejection=True)
    return params


def _parse_query(call, models):
    form = dict(call.form)
    version = models.service(STS_SERVICE).api_version
    if 'Version' not in form:
        raise AwsError('MissingParameter', 'The request must contain the parameter Version',
                       rejection=True)
    if form['Version'] != version:
        raise AwsError('InvalidAction', f'Could not find operation {call.operation} for '
                       f'version {form["Version"]}', rejection=True)
    if len(form) != len(call.form):
        raise AwsError('InvalidQueryParameter', 'a parameter appears more than once',
                       rejection=True)
    del form['Action'], form['Version']
    shape = call.op_model.input_shape
    params, used = ({}, set()) if shape is None else _decode_struct(form, '', shape)
    unknown = sorted(set(form) - used)
    if unknown:
        raise AwsError('ValidationError', f'Unknown parameters: {", ".join(unknown)}',
                       rejection=True)
    return params


def _member_key(prefix, name, member):
    return prefix + member.serialization.get('name', name)


def _decode_struct(form, prefix, shape):
    params, used = {}, set()
    for name, member in shape.members.items():
        key = _member_key(prefix, name, member)
        found = _decode_value(form, key, member, used)
        if found is not None:
            params[name] = found
    return params, used


def _decode_value(form, key, shape, used):
    kind = shape.type_name
    if kind == 'structure':
        if not any(k.startswith(key + '.') for k in form):
            return None
        value, inner = _decode_struct(form, key + '.', shape)
        used |= inner
        return value
    if kind == 'list':
        return _decode_list(form, key, shape, used)
    if kind == 'map':
        return _decode_map(form, key, shape, used)
    if key not in form:
        return None
    used.add(key)
    return _scalar(form[key], kind, key)


def _decode_list(form, key, shape, used):
    if form.get(key) == '':
        used.add(key)
        return []
    base = key + '.' if shape.serialization.get('flattened') else key + '.member.'
    items, i = [], 1
    while True:
        item = _decode_value(form, f'{base}{i}', shape.member, used)
        if item is None:
            return items or None
        items.append(item)
        i += 1


def _decode_map(form, key, shape, used):
    result, i = {}, 1
    kname = shape.key.serialization.get('name', 'key')
    vname = shape.value.serialization.get('name', 'value')
    while f'{key}.entry.{i}.{kname}' in form:
        k = _decode_value(form, f'{key}.entry.{i}.{kname}', shape.key, used)
        result[k] = _decode_value(form, f'{key}.entry.{i}.{vname}', shape.value, used)
        i += 1
    return result or None


def _scalar(text, kind, key):
    try:
        if kind in ('integer', 'long'):
            return int(text)
        if kind in ('float', 'double'):
            return float(text)
    except ValueError:
        raise AwsError('ValidationError', f"Value '{text}' at '{key}' failed to satisfy "
                       'constraint: Member must be a number', rejection=True) from None
    if kind == 'boolean':
        if text not in ('true', 'false'):
            raise AwsError('ValidationError', f"Value '{text}' at '{key}' failed to satisfy "
                           'constraint: Member must be true or false', rejection=True)
        return text == 'true'
    return text


# Answers.

def render_ok(call, models, output, request_id):
    if call.protocol == 'json':
        body = json.dumps(output, separators=(',', ':'))
        return Response(200, body.encode(), [('Content-Type', JSON_CONTENT_TYPE),
                                              ('x-amzn-RequestId', request_id)])
    return Response(200, _query_xml(call, models, output, request_id),
                    [('Content-Type', 'text/xml'), ('x-amzn-RequestId', request_id)])


def error_status(call, models, err):
    if err.status is not None:
        return err.status
    shape = models.error_shape(call.service, err.code) if call.service else None
    if shape is not None:
        return shape.metadata.get('error', {}).get('httpStatusCode', 400)
    return 400


def render_error(call, models, err, request_id, type_prefix=''):
    status = error_status(call, models, err)
    if call.protocol == 'query':
        return Response(status, _query_error_xml(err, status, request_id),
                        [('Content-Type', 'text/xml'), ('x-amzn-RequestId', request_id)])
    key = 'message'
    shape = models.error_shape(call.service, err.code) if call.service else None
    if shape is not None and 'Message' in shape.members:
        key = 'Message'
    body = json.dumps({'__type': type_prefix + err.code, key: err.message})
    return Response(status, body.encode(), [('Content-Type', JSON_CONTENT_TYPE),
                                            ('x-amzn-RequestId', request_id),
                                            ('X-Amzn-ErrorType', err.code)])


def auth_error(call, auth):
    """The AwsError (with its status) that answers AuthError auth."""
    status, code = AUTH_ERRORS[auth.kind][call.protocol]
    return AwsError(code, auth.message, status=status, rejection=True)


def _xml_bytes(root):
    return ET.tostring(root, encoding='utf-8', xml_declaration=False)


def _query_xml(call, models, output, request_id):
    ns = models.service(call.service).metadata.get('xmlNamespace', '')
    root = ET.Element(f'{call.operation}Response', {'xmlns': ns})
    shape = call.op_model.output_shape
    wrapper = call.op_model.output_shape.serialization.get('resultWrapper') if shape else None
    result = ET.SubElement(root, wrapper or f'{call.operation}Result')
    if shape is not None:
        _xml_struct(result, shape, output)
    meta = ET.SubElement(root, 'ResponseMetadata')
    ET.SubElement(meta, 'RequestId').text = request_id
    return _xml_bytes(root)


def _xml_struct(parent, shape, value):
    for name, member in shape.members.items():
        if name in value:
            elem = ET.SubElement(parent, member.serialization.get('name', name))
            _xml_value(elem, member, value[name])


def _xml_value(elem, shape, value):
    kind = shape.type_name
    if kind == 'structure':
        _xml_struct(elem, shape, value)
    elif kind == 'list':
        for item in value:
            _xml_value(ET.SubElement(elem, 'member'), shape.member, item)
    elif kind == 'map':
        for k, v in value.items():
            entry = ET.SubElement(elem, 'entry')
            ET.SubElement(entry, 'key').text = str(k)
            _xml_value(ET.SubElement(entry, 'value'), shape.value, v)
    elif kind == 'timestamp':
        elem.text = iso8601(value)
    elif kind == 'boolean':
        elem.text = 'true' if value else 'false'
    else:
        elem.text = str(value)


def _query_error_xml(err, status, request_id):
    root = ET.Element('ErrorResponse', {'xmlns': 'https://sts.amazonaws.com/doc/2011-06-15/'})
    error = ET.SubElement(root, 'Error')
    ET.SubElement(error, 'Type').text = 'Receiver' if status >= 500 else 'Sender'
    ET.SubElement(error, 'Code').text = err.code
    ET.SubElement(error, 'Message').text = err.message
    ET.SubElement(root, 'RequestId').text = request_id
    return _xml_bytes(root)


def iso8601(epoch_sec):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch_sec))
