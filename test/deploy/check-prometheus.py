#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
promtool check config on every Prometheus configuration of the deployment:
deploy/prometheus/*.yml (placeholders filled, file_sd paths pointed at a
temporary targets file), the one embedded in each Prometheus task definition
of the templates (intrinsics evaluated), and the ones the step-by-step
scripts render into their task definitions. A warning counts as a failure.

Then what the deployment relies on: each shard's configuration asks its
side-car for ?shard=i&shards=N; the relabelling is the same everywhere;
external labels carry AMP's HA labels (cluster, __replica__), with
${HOSTNAME} expanded by Prometheus's expand-external-labels feature, which
the container's command must enable; remote write uses sigv4 and no signing
proxy runs beside Prometheus.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cfn
import ecsapi

FILLS = {
    "SCRAPE_INTERVAL": "30s",
    "CLUSTER_LABEL": "cloudmap-sd-shard-0",
    "SHARD": "0",
    "SHARDS": "2",
    "REFRESH_INTERVAL": "30s",
    "REMOTE_WRITE_URL": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
    "AWS_REGION": "us-east-1",
    "REMOTE_WRITE_ROLE_ARN": "arn:aws:iam::123456789012:role/remote-write",
}


def promtool(text, tmp, name):
    """promtool's complaints about a configuration; [] when it is clean."""
    targets = os.path.join(tmp, "targets.json")
    with open(targets, "w", encoding="utf-8") as f:
        f.write("[]\n")
    config = cfn.load_yaml(text)
    for job in config.get("scrape_configs", []):
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [targets]
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(cfn.yaml.safe_dump(config))
    r = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip().splitlines()
    if r.returncode != 0 or any("WARNING" in line for line in out):
        return out or [f"promtool exited {r.returncode}"]
    return []


def fill(text):
    for k, v in FILLS.items():
        text = text.replace("${" + k + "}", v)
    return text


def prometheus_containers(tds):
    """(family, container, config text) of each Prometheus container."""
    for td in tds:
        for c in td.get("containerDefinitions", []):
            env = {e["name"]: e["value"] for e in c.get("environment", [])}
            if "PROMETHEUS_CONFIG" in env:
                yield td["family"], c, env["PROMETHEUS_CONFIG"], td


def template_tds():
    """(template name, its task definitions in API shape, ShardCount)."""
    shape = ecsapi.input_shape()
    out = []
    for path in cfn.templates():
        tds = [td for _, td in ecsapi.template_task_definitions(path, shape)]
        ev = cfn.Evaluator(cfn.load(path))
        out.append((os.path.basename(path), tds, ev.params.get("ShardCount")))
    return out


def relabel(config):
    return config["scrape_configs"][0]["relabel_configs"]


def layout_problems(family, container, config, shard, shards, reference):
    problems = []
    url = config["scrape_configs"][0]["http_sd_configs"][0]["url"]
    want = f"http://localhost:9001/targets?shard={shard}&shards={shards}"
    if url != want:
        problems.append(f"{family}: http_sd url {url}, want {want}")
    if relabel(config) != reference:
        problems.append(f"{family}: relabel_configs differ from deploy/prometheus/prometheus-http-sd.yml")
    taken = [r["target_label"] for r in relabel(config)
             if r.get("target_label") in ("cluster", "__replica__")]
    if taken:
        problems.append(f"{family}: relabelling sets {taken}, AMP's HA labels")
    labels = config["global"].get("external_labels", {})
    if set(labels) != {"cluster", "__replica__"}:
        problems.append(f"{family}: external_labels {sorted(labels)}, want cluster and __replica__")
    command = " ".join(container.get("command", []))
    if "$" in str(labels.get("__replica__")) and "--enable-feature=expand-external-labels" not in command:
        problems.append(f"{family}: __replica__ uses ${{...}} but expand-external-labels is off")
    if any("sigv4" not in rw for rw in config.get("remote_write", [])) or not config.get("remote_write"):
        problems.append(f"{family}: remote_write without sigv4")
    return problems


def no_proxy_problems(td):
    images = [c.get("image", "") for c in td.get("containerDefinitions", [])]
    return [f"{td['family']}: signing proxy {i}" for i in images if "sigv4-proxy" in i]


def check_sets(tap, tmp, where, tds, shards, reference):
    shard_re = re.compile(r"-shard-(\d+)$")
    for family, container, text, td in prometheus_containers(tds):
        tap.check(f"{where}: {family}: promtool check config",
                  promtool(text, tmp, f"{family}.yml"))
        m = shard_re.search(family)
        config = cfn.load_yaml(text)
        problems = layout_problems(family, container, config, m.group(1) if m else "?",
                                   shards, reference) + no_proxy_problems(td)
        tap.check(f"{where}: {family}: shard, HA labels, relabelling, sigv4", problems)


def main():
    tap = cfn.Tap()
    tmp = tempfile.mkdtemp()
    try:
        reference = file_sd = None
        for path in sorted(glob.glob(os.path.join(cfn.REPO, "deploy", "prometheus", "*.yml"))):
            with open(path, encoding="utf-8") as f:
                text = fill(f.read())
            name = os.path.relpath(path, cfn.REPO)
            tap.check(f"{name}: promtool check config", promtool(text, tmp, "standalone.yml"))
            if name.endswith("prometheus-http-sd.yml"):
                reference = relabel(cfn.load_yaml(text))
            elif name.endswith("prometheus-file-sd.yml"):
                file_sd = relabel(cfn.load_yaml(text))
        tap.check("deploy/prometheus: the file_sd variant relabels as the http_sd one",
                  [] if reference and file_sd and file_sd[-len(reference):] == reference
                  else ["prometheus-file-sd.yml's relabel_configs do not end with "
                        "prometheus-http-sd.yml's"])
        for where, tds, shards in template_tds():
            check_sets(tap, tmp, where, tds, shards, reference)
        _, td_dir = cfn.render_scripts(os.path.join(tmp, "scripts"))
        tds = []
        for path in sorted(glob.glob(os.path.join(td_dir, "*.json"))):
            with open(path, encoding="utf-8") as f:
                tds.append(cfn.json.load(f))
        check_sets(tap, tmp, "deploy/scripts", tds, cfn.SCRIPTS_ENV["SHARDS"], reference)
    finally:
        shutil.rmtree(tmp)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
