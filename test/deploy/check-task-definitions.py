#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Validates every ECS task definition against botocore's model of
RegisterTaskDefinition (its ParamValidator), one TAP test each: those in
the CloudFormation templates, turned into the API's shape first, and the
JSON ones the step-by-step scripts register (rendered offline by
`task-definitions.sh --render-only`).

The conversion is ecsapi.py's (CloudFormation names to the API's, led by
botocore's shapes; unknown names stay unknown). Values are not coerced: a task-level Cpu written as a number fails, as the API's
string would. Enum values (networkMode, dependsOn conditions, ...) are
checked against the model too, which ParamValidator does not do.

  check-task-definitions.py [TEMPLATE_OR_JSON...]   (default: all of deploy/)
"""
import glob
import json
import os
import sys
import tempfile

import botocore
from botocore.validate import ParamValidator

import cfn
from ecsapi import input_shape, template_task_definitions

def enum_errors(value, shape, where):
    """ParamValidator leaves enums alone (networkMode, condition, ...)."""
    if shape is None:
        return []
    if shape.type_name == "structure" and isinstance(value, dict):
        return [e for k, v in value.items()
                for e in enum_errors(v, shape.members.get(k), f"{where}.{k}")]
    if shape.type_name == "list" and isinstance(value, list):
        return [e for i, v in enumerate(value)
                for e in enum_errors(v, shape.member, f"{where}[{i}]")]
    allowed = getattr(shape, "enum", None)
    if allowed and isinstance(value, str) and value not in allowed:
        return [f"{where}: {value!r} is not one of {', '.join(allowed)}"]
    return []


def validate(params, shape):
    problems = enum_errors(params, shape, "request")
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems += report.generate_report().splitlines()
    return problems


def main(paths):
    tap = cfn.Tap()
    shape = input_shape()
    tap.note(f"botocore {botocore.__version__}, ecs RegisterTaskDefinition")
    for path in paths:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                items = [(f"task-definitions.sh: {os.path.basename(path)}", json.load(f))]
        else:
            items = [(os.path.relpath(n, cfn.REPO), td)
                     for n, td in template_task_definitions(path, shape)]
            if not items:
                tap.note(f"{path}: no task definitions")
        for name, params in items:
            tap.check(f"{name} is a valid RegisterTaskDefinition request",
                      validate(params, shape))
    return tap.done()


def default_paths(tmp):
    _, td_dir = cfn.render_scripts(tmp)
    return cfn.templates() + sorted(glob.glob(os.path.join(td_dir, "*.json")))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(default_paths(tmp)))
