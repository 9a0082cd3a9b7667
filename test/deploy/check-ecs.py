#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Checks the ECS layout the deployment promises, in the templates and in the
task definitions the step-by-step scripts render:

- Prometheus and the cloudmap-sd side-car share one awsvpc task; Prometheus
  starts once the side-car is HEALTHY, whose health check is the binary's
  own probe (--healthcheck), as is the web app's;
- node exporter uses the host network, runs as a daemon, and mounts the
  host's /proc, /sys and / read-only;
- the Cloud Map services are tagged METRICS_PATH and METRICS_PORT, and the
  ECS services register in them;
- app.yaml's shard blocks are the same but for their index, and ShardCount
  N turns on exactly N Prometheus services, each with ReplicasPerShard tasks;
- the templates take the parameters users set (images, VPC, subnets,
  instance type, desired counts).
"""
import glob
import json
import os
import re
import sys
import tempfile

import cfn
import ecsapi

SHARDS_MAX = 4


def container(td, name):
    return next((c for c in td["containerDefinitions"] if c["name"] == name), None)


def sidecar_problems(td):
    sd, prom = container(td, "cloudmap-sd"), container(td, "prometheus")
    if not sd or not prom:
        return ["no cloudmap-sd and prometheus containers in one task"]
    problems = []
    if td.get("networkMode") != "awsvpc":
        problems.append(f"networkMode {td.get('networkMode')}, want awsvpc")
    if {"containerName": "cloudmap-sd", "condition": "HEALTHY"} not in prom.get("dependsOn", []):
        problems.append("prometheus does not wait for cloudmap-sd to be HEALTHY")
    if sd.get("healthCheck", {}).get("command", [])[-1:] != ["--healthcheck"]:
        problems.append("cloudmap-sd's health check is not its --healthcheck probe")
    if 9001 not in [p["containerPort"] for p in sd.get("portMappings", [])]:
        problems.append("cloudmap-sd does not expose 9001")
    return problems


def webapp_problems(td):
    c = container(td, "webapp")
    if c.get("healthCheck", {}).get("command", [])[-1:] != ["--healthcheck"]:
        return ["the web app's health check is not its --healthcheck probe"]
    return []


def node_exporter_problems(td):
    problems = []
    if td.get("networkMode") != "host":
        problems.append(f"networkMode {td.get('networkMode')}, want host")
    volumes = {v["name"]: v.get("host", {}).get("sourcePath") for v in td.get("volumes", [])}
    mounts = {volumes.get(m["sourceVolume"]): m.get("readOnly")
              for m in container(td, "node-exporter").get("mountPoints", [])}
    for path in ("/proc", "/sys", "/"):
        if mounts.get(path) is not True:
            problems.append(f"host {path} is not mounted read-only")
    return problems


def check_tds(tap, where, tds):
    kinds = {"cloudmap-sd": sidecar_problems, "webapp": webapp_problems,
             "node-exporter": node_exporter_problems}
    seen = set()
    for td in tds:
        for name, fn in kinds.items():
            if container(td, name):
                seen.add(name)
                tap.check(f"{where}: {td['family']}: {name} task layout", fn(td))
    tap.check(f"{where}: has Prometheus with cloudmap-sd, the web app and node exporter",
              [f"no {k} task" for k in kinds if k not in seen])


def normalized_shard(template, i):
    res = {k: {a: b for a, b in v.items() if a != "Condition"}
           for k, v in template["Resources"].items() if k.startswith(f"PrometheusShard{i}")}
    text = json.dumps(res, sort_keys=True)
    text = text.replace(f"PrometheusShard{i}", "PrometheusShardN")
    text = re.sub(rf"shard-{i}\b", "shard-N", text)
    return re.sub(rf"shard={i}&", "shard=N&", text)


def shard_problems(path):
    t = cfn.load(path)
    problems = []
    first = normalized_shard(t, 0)
    for i in range(1, SHARDS_MAX):
        if normalized_shard(t, i) != first:
            problems.append(f"PrometheusShard{i} differs from PrometheusShard0 beyond the index")
    for n in range(1, SHARDS_MAX + 1):
        ev = cfn.Evaluator(t, {"ShardCount": str(n), "ReplicasPerShard": "2"})
        on = [name for name, r in ev.of_type("AWS::ECS::Service")
              if name.startswith("PrometheusShard")
              and ("Condition" not in r or ev.condition(r["Condition"]))]
        if len(on) != n:
            problems.append(f"ShardCount={n} turns on {len(on)} Prometheus services")
        for name in on:
            count = ev.eval(t["Resources"][name]["Properties"]["DesiredCount"])
            if count != "2":
                problems.append(f"{name}: DesiredCount {count}, want ReplicasPerShard")
    return problems


def discovery_problems(path):
    t = cfn.load(path)
    ev = cfn.Evaluator(t)
    problems = []
    for name, r in ev.of_type("AWS::ServiceDiscovery::Service"):
        keys = {tag["Key"] for tag in r["Properties"].get("Tags", [])}
        if not {"METRICS_PATH", "METRICS_PORT"} <= keys:
            problems.append(f"{name} is not tagged METRICS_PATH and METRICS_PORT")
    registered = set()
    for name, r in ev.of_type("AWS::ECS::Service"):
        props = r["Properties"]
        for reg in props.get("ServiceRegistries", []):
            registered.add(reg["RegistryArn"]["Fn::GetAtt"][0])
        if "NodeExporter" in name and props.get("SchedulingStrategy") != "DAEMON":
            problems.append(f"{name} is not a daemon service")
    missing = {n for n, _ in ev.of_type("AWS::ServiceDiscovery::Service")} - registered
    problems += [f"no ECS service registers in {m}" for m in sorted(missing)]
    return problems


def scripts_problems():
    with open(os.path.join(cfn.REPO, "deploy", "scripts", "services.sh"), encoding="utf-8") as f:
        services = f.read()
    with open(os.path.join(cfn.REPO, "deploy", "scripts", "cloudmap.sh"), encoding="utf-8") as f:
        cloudmap = f.read()
    problems = []
    if "--scheduling-strategy DAEMON" not in services:
        problems.append("services.sh does not run node exporter as a daemon")
    if "Key=METRICS_PATH" not in cloudmap or "Key=METRICS_PORT" not in cloudmap:
        problems.append("cloudmap.sh does not tag the services METRICS_PATH and METRICS_PORT")
    return problems


PARAMETERS = {
    "app.yaml": {"CloudmapSdImage", "WebappImage", "PrometheusImage", "NodeExporterImage",
                 "WebappDesiredCount", "ShardCount", "ReplicasPerShard"},
    "cluster.yaml": {"VpcId", "SubnetIds", "InstanceType", "DesiredCapacity"},
}


def main():
    tap = cfn.Tap()
    shape = ecsapi.input_shape()
    for path in cfn.templates():
        base = os.path.basename(path)
        tds = [td for _, td in ecsapi.template_task_definitions(path, shape)]
        if tds:
            check_tds(tap, base, tds)
        params = set(cfn.load(path).get("Parameters", {}))
        tap.check(f"{base}: takes the parameters users set",
                  [f"no parameter {p}" for p in sorted(PARAMETERS.get(base, set()) - params)])
    app = os.path.join(cfn.REPO, "deploy", "cloudformation", "app.yaml")
    tap.check("app.yaml: shard blocks differ only by index; ShardCount and ReplicasPerShard",
              shard_problems(app))
    tap.check("app.yaml: Cloud Map services tagged and registered in; node exporter a daemon",
              discovery_problems(app))
    with tempfile.TemporaryDirectory() as tmp:
        _, td_dir = cfn.render_scripts(tmp)
        tds = []
        for p in sorted(glob.glob(os.path.join(td_dir, "*.json"))):
            with open(p, encoding="utf-8") as f:
                tds.append(json.load(f))
        check_tds(tap, "deploy/scripts", tds)
    tap.check("deploy/scripts: node exporter a daemon, Cloud Map services tagged",
              scripts_problems())
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
