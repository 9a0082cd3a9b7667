# SPDX-License-Identifier: Apache-2.0
"""
cfn: what the deploy checks need of CloudFormation, offline.

Loads a template (YAML with the short intrinsic tags, or JSON) and
evaluates intrinsic functions with stand-in values: parameters take their
defaults (or a placeholder), pseudo parameters fixed test values, and
references to resources the values CloudFormation would give them (names,
ARNs of the right shape). Enough to see a task definition, a policy or an
embedded Prometheus configuration the way AWS would receive it.
"""
import glob
import json
import os
import re
import subprocess

import yaml

REPO = os.environ.get("REPO_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": "cloudmap-sd",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()  # AWS::NoValue: the key is left out


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path):
    """The template at path as plain dicts and lists (long-form intrinsics)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        return json.loads(text)
    return yaml.load(text, Loader=_Loader)


def load_yaml(text):
    return yaml.safe_load(text)


def templates():
    """Every CloudFormation template of deploy/."""
    return sorted(glob.glob(os.path.join(REPO, "deploy", "cloudformation", "*.yaml")))


# What the step-by-step scripts would read from AWS, for rendering offline.
SCRIPTS_ENV = {
    "AWS_REGION": REGION,
    "ACCOUNT_ID": ACCOUNT,
    "CLUSTER_NAME": "cloudmap-sd",
    "VPC_ID": "vpc-0123456789abcdef0",
    "SUBNET_IDS": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "SECURITY_GROUP_ID": "sg-0123456789abcdef0",
    "WORKSPACE_ARN": f"arn:aws:aps:{REGION}:{ACCOUNT}:workspace/ws-scripts",
    "WORKSPACE_ENDPOINT": f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/ws-scripts/",
    "CLOUDMAP_SD_IMAGE": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cloudmap-sd:test",
    "WEBAPP_IMAGE": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cloudmap-sd-webapp:test",
    "SHARDS": "2",
}


def render_scripts(outdir):
    """Runs iam.sh and task-definitions.sh with --render-only; returns the
    directories of the policy documents and of the task definitions."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": outdir,
           "STATE_DIR": os.path.join(outdir, "state"), **SCRIPTS_ENV}
    dirs = (os.path.join(outdir, "iam"), os.path.join(outdir, "task-definitions"))
    scripts = os.path.join(REPO, "deploy", "scripts")
    for script, d in zip(("iam.sh", "task-definitions.sh"), dirs):
        subprocess.run(["bash", os.path.join(scripts, script), "--render-only", d],
                       env=env, check=True)
    return dirs


class Evaluator:
    """Evaluates intrinsics of one template with stand-in values."""

    def __init__(self, template, overrides=None):
        self.t = template
        self.resources = template.get("Resources", {})
        self.params = {}
        for name, p in template.get("Parameters", {}).items():
            self.params[name] = str(p["Default"]) if "Default" in p else f"placeholder-{name}"
        self.params.update(overrides or {})
        self.conditions = template.get("Conditions", {})

    def condition(self, name):
        return bool(self.eval(self.conditions[name]))

    def ref(self, name):
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        res = self.resources[name]
        props = res.get("Properties", {})
        by_type = {
            "AWS::SSM::Parameter": lambda: self.eval(props["Name"]),
            "AWS::Logs::LogGroup": lambda: self.eval(props["LogGroupName"]),
            "AWS::IAM::Role": lambda: name,
            "AWS::ECS::Cluster": lambda: name,
            "AWS::ECS::TaskDefinition": lambda: self.arn(name, res["Type"]),
            "AWS::APS::Workspace": lambda: self.arn(name, res["Type"]),
        }
        return by_type.get(res["Type"], lambda: f"{name}-id")()

    def arn(self, name, rtype):
        if rtype == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        if rtype == "AWS::APS::Workspace":
            return f"arn:aws:aps:{REGION}:{ACCOUNT}:workspace/ws-{name}"
        if rtype == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self.ref(name)}:*"
        service = rtype.split("::")[1].lower()
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"

    def get_att(self, name, attr):
        rtype = self.resources[name]["Type"]
        if attr == "Arn":
            return self.arn(name, rtype)
        if rtype == "AWS::APS::Workspace" and attr == "PrometheusEndpoint":
            return f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/ws-{name}/"
        if rtype == "AWS::APS::Workspace" and attr == "WorkspaceId":
            return f"ws-{name}"
        return f"{name}.{attr}"

    def sub(self, arg):
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def one(m):
            key = m.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in variables:
                return str(self.eval(variables[key]))
            if "." in key and key.split(".")[0] in self.resources:
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def fn(self, name, arg):
        simple = {
            "Ref": lambda: self.ref(arg),
            "Fn::GetAtt": lambda: self.get_att(arg[0], arg[1]),
            "Fn::Sub": lambda: self.sub(arg),
            "Fn::Join": lambda: str(arg[0]).join(str(v) for v in self.eval(arg[1])),
            "Fn::Split": lambda: self.eval(arg[1]).split(arg[0]),
            "Fn::Select": lambda: self.eval(arg[1])[int(self.eval(arg[0]))],
            "Fn::ImportValue": lambda: f"imported-{self.eval(arg)}",
            "Fn::Base64": lambda: self.eval(arg),
            "Fn::GetAZs": lambda: [REGION + "a", REGION + "b"],
            "Fn::Equals": lambda: str(self.eval(arg[0])) == str(self.eval(arg[1])),
            "Fn::Not": lambda: not self.eval(arg[0]),
            "Fn::And": lambda: all(self.eval(a) for a in arg),
            "Fn::Or": lambda: any(self.eval(a) for a in arg),
            "Fn::Condition": lambda: self.condition(arg),
            "Fn::If": lambda: self.eval(arg[1] if self.condition(arg[0]) else arg[2]),
        }
        return simple[name]()

    def eval(self, node):
        """node with every intrinsic function replaced by its value."""
        if isinstance(node, list):
            return [v for v in (self.eval(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self.fn(key, arg)
            if key == "Condition" and isinstance(arg, str) and arg in self.conditions:
                return self.condition(arg)
        out = {}
        for k, v in node.items():
            v = self.eval(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def of_type(self, rtype):
        """(logical id, resource) of every resource of a type, in order."""
        return [(n, r) for n, r in self.resources.items() if r["Type"] == rtype]


class Tap:
    """TAP output: one line per check, diagnostics as comments."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, good, name, problems=()):
        self.n += 1
        for p in problems:
            print(f"#   {p}")
        print(f"{'ok' if good else 'not ok'} {self.n} - {name}")
        self.failed += 0 if good else 1

    def check(self, name, problems):
        self.ok(not problems, name, problems)

    def note(self, text):
        print(f"# {text}")

    def done(self):
        print(f"1..{self.n}")
        return 1 if self.failed or self.n == 0 else 0
