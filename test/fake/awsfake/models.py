# SPDX-License-Identifier: Apache-2.0
"""models: the botocore service models the fake checks requests against.

Models loads servicediscovery, ssm and sts through botocore's own loader
(not a session, so no AWS profile or config file of the user matters),
adds what model-overlay.json holds where the installed botocore lacks it,
and validates operation input: first botocore's ParamValidator (types,
required members, minimums, unknown members), then the constraints that
validator leaves to the service (enums, maximums, patterns). Immutable
after construction (but for a cache of compiled patterns, which the GIL
keeps whole): safe to share between threads without the lock.
"""

import copy
import json
import os
import re

import botocore.loaders
import botocore.model
import botocore.validate

SERVICES = ('servicediscovery', 'ssm', 'sts')
OVERLAY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model-overlay.json')


class ValidationFailed(Exception):
    """Input that breaks the model; str() is the report."""


def _apply_overlay(data, overlay):
    for name, shape in overlay.get('shapes', {}).items():
        data['shapes'].setdefault(name, shape)
    for shape_name, members in overlay.get('members', {}).items():
        shape = data['shapes'].get(shape_name)
        if shape is not None:
            for member, ref in members.items():
                shape.setdefault('members', {}).setdefault(member, ref)
    for name, op in overlay.get('operations', {}).items():
        data['operations'].setdefault(name, op)


class Models:
    def __init__(self):
        loader = botocore.loaders.create_loader()
        with open(OVERLAY_PATH) as f:
            overlay = json.load(f)
        self.services = {}
        for name in SERVICES:
            data = copy.deepcopy(loader.load_service_model(name, 'service-2'))
            _apply_overlay(data, overlay.get(name, {}))
            self.services[name] = botocore.model.ServiceModel(data, service_name=name)
        self.by_target_prefix = {
            m.metadata['targetPrefix']: name
            for name, m in self.services.items() if 'targetPrefix' in m.metadata}

    def service(self, name):
        return self.services[name]

    def operation(self, service, op_name):
        """The OperationModel, or None when the service has no such operation."""
        model = self.services[service]
        if op_name not in model.operation_names:
            return None
        return model.operation_model(op_name)

    def error_shape(self, service, code):
        """The error shape whose wire code (or name) is code, or None."""
        model = self.services[service]
        for shape in model.error_shapes:
            if shape.metadata.get('error', {}).get('code', shape.name) == code \
                    or shape.name == code:
                return shape
        return None

    def validate(self, op_model, params):
        """Raises ValidationFailed when params break op_model's input shape."""
        shape = op_model.input_shape
        if shape is None:
            if params:
                raise ValidationFailed('Parameter validation failed:\n'
                                       f'Unknown parameters: {", ".join(sorted(params))}')
            return
        report = botocore.validate.ParamValidator().validate(params, shape)
        if report.has_errors():
            raise ValidationFailed(report.generate_report())
        errors = []
        _check(shape, params, '', errors)
        if errors:
            n = len(errors)
            raise ValidationFailed(f'{n} validation error{"s" if n > 1 else ""} detected: '
                                   + '; '.join(errors))


def _lower_first(name):
    return name[:1].lower() + name[1:]


def _join(path, name):
    return f'{path}.{name}' if path else name


def _check(shape, value, path, errors):
    kind = shape.type_name
    if kind == 'structure':
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], _join(path, _lower_first(name)), errors)
    elif kind == 'list':
        _check_max(shape, len(value), value, path, errors, 'length')
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f'{path}.{i}.member', errors)
    elif kind == 'map':
        _check_max(shape, len(value), value, path, errors, 'length')
        for k, v in value.items():
            _check(shape.key, k, f'{path}.{k}.key', errors)
            _check(shape.value, v, f'{path}.{k}.value', errors)
    elif kind == 'string':
        _check_string(shape, value, path, errors)
    elif kind in ('integer', 'long'):
        if isinstance(value, bool):
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          'Member must be a number')
        else:
            _check_max(shape, value, value, path, errors, 'value')


def _check_max(shape, measure, value, path, errors, what):
    limit = shape.metadata.get('max')
    if limit is not None and measure > limit:
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                      f'Member must have {what} less than or equal to {limit}')


def _check_string(shape, value, path, errors):
    enum = shape.metadata.get('enum')
    if enum and value not in enum:
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                      f'Member must satisfy enum value set: [{", ".join(enum)}]')
    _check_max(shape, len(value), value, path, errors, 'length')
    pattern = shape.metadata.get('pattern')
    if pattern and not _pattern_matches(pattern, value):
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                      f'Member must satisfy regular expression pattern: {pattern}')


_PATTERNS = {}


def _pattern_matches(pattern, value):
    """Unanchored search, as Smithy patterns are. Patterns Python's re cannot
    read (Java-only syntax) are not checked."""
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except re.error:
            _PATTERNS[pattern] = None
    compiled = _PATTERNS[pattern]
    return compiled is None or compiled.search(value) is not None
