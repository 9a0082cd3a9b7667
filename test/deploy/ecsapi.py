# SPDX-License-Identifier: Apache-2.0
"""
ecsapi: ECS task definitions of the CloudFormation templates in the shape
RegisterTaskDefinition takes, following botocore's model of that call.

The conversion walks the botocore shape beside the CloudFormation value: a
CloudFormation name is the API's member name with its first letter raised
(ContainerDefinitions -> containerDefinitions), save for the few listed in
RENAMES; map keys (log options, docker labels) are kept; a name with no
member is kept lowered, so the validator reports it as unknown.
"""
import botocore.session

import cfn

# CloudFormation names that are not the API name with its first letter raised.
RENAMES = {
    "ProxyConfigurationProperties": "properties",
    "EFSVolumeConfiguration": "efsVolumeConfiguration",
    "FSxWindowsFileServerVolumeConfiguration": "fsxWindowsFileServerVolumeConfiguration",
    "IAM": "iam",
}


def api_name(cfn_name, members):
    if cfn_name in RENAMES and RENAMES[cfn_name] in members:
        return RENAMES[cfn_name]
    for member in members:
        if member[:1].upper() + member[1:] == cfn_name:
            return member
    return cfn_name[:1].lower() + cfn_name[1:]


def to_api(value, shape):
    """value (CloudFormation names) in the API's names, following shape."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = api_name(k, shape.members)
            out[name] = to_api(v, shape.members.get(name))
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_api(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_api(v, shape.value) for k, v in value.items()}
    return value


def input_shape():
    session = botocore.session.get_session()
    model = session.get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def template_task_definitions(path, shape):
    template = cfn.load(path)
    ev = cfn.Evaluator(template)
    for name, res in ev.of_type("AWS::ECS::TaskDefinition"):
        props = ev.eval(res.get("Properties", {}))
        yield f"{path}: {name}", to_api(props, shape)
