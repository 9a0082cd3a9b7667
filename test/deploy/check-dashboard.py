#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Checks the Grafana dashboards of deploy/grafana/: each is valid JSON with
panels whose queries are valid PromQL (promtool check rules, on a rules
file made of them), and together they hold the three demo queries and a
panel for each of cloudmap-sd's health signals.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import cfn

DEMO_QUERIES = [
    "sum(rate(http_requests_total[5m]))",
    "sum(rate(request_duration_milliseconds_sum[5m])) / sum(rate(request_duration_milliseconds_count[5m]))",
    '100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])) * 100)',
]
# A health signal: the metric a panel must query (and a label matcher).
HEALTH = {
    "snapshot age": r"cloudmap_sd_snapshot_age_seconds",
    "refresh errors": r'cloudmap_sd_refreshes_total\{[^}]*result!?=~?"[^"]*(?:failure|success)',
    "targets": r"cloudmap_sd_targets\b",
    "AWS throttles": r"cloudmap_sd_aws_throttles_total",
}


def squash(expr):
    return re.sub(r"\s+", "", expr)


def panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def exprs(dash):
    return [t["expr"] for p in panels(dash) for t in p.get("targets", []) if t.get("expr")]


def promql_problems(queries):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        rules = [{"record": f"dashboard:panel{i}", "expr": q.replace("$__rate_interval", "5m")}
                 for i, q in enumerate(queries)]
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    try:
        r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return [] if r.returncode == 0 else (r.stdout + r.stderr).strip().splitlines()


def main():
    tap = cfn.Tap()
    paths = sorted(glob.glob(os.path.join(cfn.REPO, "deploy", "grafana", "*.json")))
    tap.check("deploy/grafana holds a dashboard", [] if paths else ["no *.json"])
    everything = []
    for path in paths:
        name = os.path.relpath(path, cfn.REPO)
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except ValueError as e:
            tap.check(f"{name} is valid JSON", [str(e)])
            continue
        queries = exprs(dash)
        tap.check(f"{name}: a dashboard with titled panels and queries",
                  [] if dash.get("title") and queries
                  and all(p.get("title") for p in panels(dash)) else ["no title or no queries"])
        tap.check(f"{name}: every query is valid PromQL", promql_problems(queries))
        everything += queries
    have = {squash(q) for q in everything}
    tap.check("the three demo queries are there",
              [f"missing: {q}" for q in DEMO_QUERIES if squash(q) not in have])
    tap.check("cloudmap-sd's health panels are there",
              [f"no panel for {k}" for k, rx in HEALTH.items()
               if not any(re.search(rx, q) for q in everything)])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
