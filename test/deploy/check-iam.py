#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Checks every IAM policy of the deployment, in the templates and in the
step-by-step scripts (their documents as `iam.sh --render-only` writes them,
beside the task definitions of `task-definitions.sh --render-only`):

- no action with a wildcard, no NotAction, no managed policy attached;
- the role of every task running cloudmap-sd allows exactly the Cloud Map
  reads it needs and ssm:GetParameter, the latter only on the parameters
  its command line names (in a template: parameters the template creates);
- the role Prometheus assumes for remote write (its sigv4 role_arn) allows
  exactly aps:RemoteWrite on the workspace its remote_write URL names, and
  trusts only the task role.

  check-iam.py [--template FILE...] [--scripts IAM_DIR TASK_DEFINITION_DIR]
  (without arguments: every template, and the scripts rendered offline)
"""
import argparse
import glob
import json
import os
import re
import sys
import tempfile

import cfn

CLOUDMAP_SD_ACTIONS = {
    "servicediscovery:listnamespaces",
    "servicediscovery:listservices",
    "servicediscovery:listtagsforresource",
    "servicediscovery:getnamespace",
    "servicediscovery:getservice",
    "servicediscovery:discoverinstances",
    "servicediscovery:discoverinstancesrevision",
    "ssm:getparameter",
}
PROMETHEUS_ACTIONS = {"aps:remotewrite"}


def as_list(v):
    return v if isinstance(v, list) else [v]


def g(d, name):
    """A field by its API (camelCase) or CloudFormation (PascalCase) name."""
    return d.get(name, d.get(name[:1].upper() + name[1:]))


def statements(doc):
    return as_list(doc.get("Statement", []))


def wildcard_problems(doc, where):
    problems = []
    for i, st in enumerate(statements(doc)):
        if "NotAction" in st:
            problems.append(f"{where} statement {i}: NotAction")
        for action in as_list(st.get("Action", [])):
            if "*" in action or "?" in action:
                problems.append(f"{where} statement {i}: wildcard action {action}")
    return problems


def allowed(docs):
    """{action (lowercase): set of resources} over Allow statements."""
    out = {}
    for doc in docs:
        for st in statements(doc):
            if st.get("Effect") != "Allow":
                continue
            for action in as_list(st.get("Action", [])):
                out.setdefault(action.lower(), set()).update(as_list(st.get("Resource", [])))
    return out


class Deployment:
    """Roles by ARN and task definitions, from a template or the scripts."""

    def __init__(self, roles, task_definitions, created_parameters=None):
        self.roles = roles  # arn -> {"name", "trust", "policies", "managed"}
        self.tds = task_definitions
        self.created_parameters = created_parameters

    def container(self, td, name):
        for c in g(td, "containerDefinitions"):
            if g(c, "name") == name:
                return c
        return None

    def env(self, container, name):
        for e in g(container, "environment") or []:
            if g(e, "name") == name:
                return g(e, "value")
        return None


def from_template(path):
    t = cfn.load(path)
    ev = cfn.Evaluator(t)
    roles = {}
    for name, res in ev.of_type("AWS::IAM::Role"):
        props = res["Properties"]
        roles[ev.arn(name, res["Type"])] = {
            "name": name,
            "trust": ev.eval(props["AssumeRolePolicyDocument"]),
            "policies": [ev.eval(p["PolicyDocument"]) for p in props.get("Policies", [])],
            "managed": props.get("ManagedPolicyArns", []),
        }
    for rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, res in ev.of_type(rtype):
            props = ev.eval(res["Properties"])
            for role in props.get("Roles", []):
                roles[f"arn:aws:iam::{cfn.ACCOUNT}:role/{role}"]["policies"].append(
                    props["PolicyDocument"])
    tds = [ev.eval(r["Properties"]) for _, r in ev.of_type("AWS::ECS::TaskDefinition")]
    params = {ssm_arn(ev.eval(r["Properties"]["Name"]))
              for _, r in ev.of_type("AWS::SSM::Parameter")}
    return Deployment(roles, tds, params)


def from_scripts(iam_dir, td_dir):
    def load(name):
        with open(os.path.join(iam_dir, name), encoding="utf-8") as f:
            return json.load(f)

    roles = {}
    for r in load("roles.json"):
        roles[r["arn"]] = {"name": r["name"], "trust": load(r["trust"]),
                           "policies": [load(r["policy"])], "managed": []}
    tds = []
    for path in sorted(glob.glob(os.path.join(td_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            tds.append(json.load(f))
    return Deployment(roles, tds)


def ssm_arn(name):
    return f"arn:aws:ssm:{cfn.REGION}:{cfn.ACCOUNT}:parameter/{name.lstrip('/')}"


def cloudmap_sd_problems(dep, td):
    c = dep.container(td, "cloudmap-sd")
    role = dep.roles.get(g(td, "taskRoleArn"))
    if role is None:
        return [f"task role {g(td, 'taskRoleArn')} is not a role of this deployment"]
    acts = allowed(role["policies"])
    problems = []
    if set(acts) != CLOUDMAP_SD_ACTIONS:
        problems.append(f"role {role['name']} allows {sorted(acts)}, "
                        f"want exactly {sorted(CLOUDMAP_SD_ACTIONS)}")
    params = {ssm_arn(a.split("=", 1)[1]) for a in g(c, "command") or []
              if a.startswith("--cloudmap.namespaces-parameter=")}
    if acts.get("ssm:getparameter", set()) != params:
        problems.append(f"ssm:GetParameter on {sorted(acts.get('ssm:getparameter', []))}, "
                        f"want exactly the parameters cloudmap-sd reads: {sorted(params)}")
    if dep.created_parameters is not None and not params <= dep.created_parameters:
        problems.append(f"parameters {sorted(params - dep.created_parameters)} "
                        "are not created by this deployment")
    return problems


def prometheus_config(dep, td):
    c = dep.container(td, "prometheus")
    text = dep.env(c, "PROMETHEUS_CONFIG") if c else None
    return cfn.load_yaml(text) if text else None


def remote_write_problems(dep, td):
    config = prometheus_config(dep, td)
    if not config or not config.get("remote_write"):
        return ["no Prometheus remote_write configuration in the task"]
    problems = []
    for rw in config["remote_write"]:
        m = re.search(r"/workspaces/([^/]+)/api/v1/remote_write$", rw.get("url", ""))
        role = dep.roles.get((rw.get("sigv4") or {}).get("role_arn"))
        if not m or role is None:
            problems.append(f"remote_write {rw.get('url')} has no AMP URL or no sigv4 role_arn "
                            "of this deployment")
            continue
        workspace = f"arn:aws:aps:{cfn.REGION}:{cfn.ACCOUNT}:workspace/{m.group(1)}"
        acts = allowed(role["policies"])
        if acts != {"aps:remotewrite": {workspace}}:
            problems.append(f"role {role['name']} allows { {a: sorted(r) for a, r in acts.items()} }, "
                            f"want exactly aps:RemoteWrite on {workspace}")
        trusted = {p for st in statements(role["trust"])
                   for p in as_list((st.get("Principal") or {}).get("AWS", []))}
        if trusted != {g(td, "taskRoleArn")}:
            problems.append(f"role {role['name']} trusts {sorted(trusted)}, want only the task role")
    return problems


def check(tap, where, dep):
    problems = []
    for role in dep.roles.values():
        problems += wildcard_problems(role["trust"], f"{role['name']} trust")
        for doc in role["policies"]:
            problems += wildcard_problems(doc, role["name"])
        if role["managed"]:
            problems.append(f"{role['name']}: managed policies {role['managed']}")
    tap.check(f"{where}: no wildcard action, no NotAction, no managed policy "
              f"({len(dep.roles)} roles)", problems)
    with_sd = [td for td in dep.tds if dep.container(td, "cloudmap-sd")]
    if not with_sd:
        tap.note(f"{where}: no task runs cloudmap-sd")
    for td in with_sd:
        family = g(td, "family")
        tap.check(f"{where}: {family}: cloudmap-sd's role allows exactly its actions",
                  cloudmap_sd_problems(dep, td))
        tap.check(f"{where}: {family}: Prometheus may only aps:RemoteWrite on its workspace",
                  remote_write_problems(dep, td))


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", nargs="*", default=[])
    ap.add_argument("--scripts", nargs=2, metavar=("IAM_DIR", "TD_DIR"))
    args = ap.parse_args(argv)
    tap = cfn.Tap()
    for path in args.template:
        check(tap, os.path.basename(path), from_template(path))
    if args.scripts:
        check(tap, "deploy/scripts", from_scripts(*args.scripts))
    return tap.done()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(["--template", *cfn.templates(), "--scripts", *cfn.render_scripts(tmp)]))
