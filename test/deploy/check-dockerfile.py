#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Checks the repository's Dockerfile:

- dockerfilelint (tools/node_modules) finds nothing, with the settings in
  deploy/docker/.dockerfilelintrc;
- its build stage runs the same scripts/setup.sh and scripts/build.sh as CI
  (scripts/test.sh), with options each script accepts, and holds no build
  or package commands of its own (one source of truth);
- every base image but scratch and earlier stages has a pinned tag;
- each runtime stage runs as a non-root user, has a HEALTHCHECK that runs
  the binary's --healthcheck probe in exec form (no shell in the image),
  OCI labels, and the cloudmap-sd stage exposes 9001;
- no instruction names an architecture.
"""
import json
import os
import re
import shlex
import subprocess
import sys

import cfn

ARCH_WORDS = re.compile(r"\b(amd64|x86_64|aarch64|arm64|armhf|i386)\b")
OWN_BUILD_COMMANDS = re.compile(
    r"(?<![\w/.-])(meson\s+(setup|compile|configure)|ninja|apt-get|apt|make|gcc|cc|clang)(?![\w.-])")


def instructions(path):
    """(keyword, arguments) of each instruction, continuations joined."""
    out, current = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def stages(instrs):
    """[(name, base, [instructions])] in order."""
    out = []
    for word, args in instrs:
        if word == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            out.append((name, parts[0], []))
        elif out:
            out[-1][2].append((word, args))
    return out


def script_calls(text):
    """Each scripts/*.sh call in shell text, with its arguments."""
    calls = []
    for m in re.finditer(r"(?:\./)?(scripts/[\w-]+\.sh)([^&|;\n]*)", text):
        calls.append((m.group(1), shlex.split(m.group(2))))
    return calls


def ci_text():
    with open(os.path.join(cfn.REPO, "scripts", "test.sh"), encoding="utf-8") as f:
        return "\n".join(line for line in f if not line.lstrip().startswith("#"))


def accepted_options(script):
    with open(os.path.join(cfn.REPO, script), encoding="utf-8") as f:
        return set(re.findall(r"(--[\w-]+)", f.read()))


def build_stage_problems(stage):
    runs = "\n".join(args for word, args in stage[2] if word == "RUN")
    problems = []
    docker_calls = script_calls(runs)
    ci_calls = script_calls(ci_text())
    for script in ("scripts/setup.sh", "scripts/build.sh"):
        if script not in [s for s, _ in docker_calls]:
            problems.append(f"the build stage does not run {script}")
        if script not in [s for s, _ in ci_calls]:
            problems.append(f"CI (scripts/test.sh) does not run {script}")
    for script, args in docker_calls:
        path = os.path.join(cfn.REPO, script)
        if not os.access(path, os.X_OK):
            problems.append(f"{script} is not an executable file of the repository")
            continue
        for opt in [a for a in args if a.startswith("--")]:
            if opt not in accepted_options(script):
                problems.append(f"{script} does not handle {opt}")
    for line in runs.splitlines():
        stripped = re.sub(r"(?:\./)?scripts/[\w-]+\.sh[^&|;]*", "", line)
        if OWN_BUILD_COMMANDS.search(stripped):
            problems.append(f"the build stage builds by itself: {line.strip()}")
    return problems


def runtime_stage_problems(stage):
    name, _, instrs = stage
    words = {w: a for w, a in instrs}
    problems = []
    user = words.get("USER", "root").split(":")[0]
    if user in ("root", "0"):
        problems.append(f"{name}: runs as root")
    hc = words.get("HEALTHCHECK", "")
    m = re.search(r"CMD\s+(\[.*\])", hc)
    if not m or json.loads(m.group(1))[-1:] != ["--healthcheck"]:
        problems.append(f"{name}: HEALTHCHECK is not the binary's --healthcheck in exec form")
    labels = " ".join(a for w, a in instrs if w == "LABEL")
    for label in ("title", "version", "revision", "licenses"):
        if f"org.opencontainers.image.{label}" not in labels:
            problems.append(f"{name}: no OCI label {label}")
    if name == "cloudmap-sd" and "9001" not in words.get("EXPOSE", ""):
        problems.append("cloudmap-sd: does not expose 9001")
    return problems


def lint_problems(path):
    lint = os.path.join(cfn.REPO, "tools", "node_modules", ".bin", "dockerfilelint")
    r = subprocess.run([lint, "-c", os.path.join(cfn.REPO, "deploy", "docker"), "-j", path],
                       capture_output=True, text=True)
    try:
        issues = [i for f in json.loads(r.stdout)["files"] for i in f["issues"]]
    except (ValueError, KeyError):
        return [f"dockerfilelint failed: {r.stdout}{r.stderr}".strip()]
    return [f"line {i['line']}: {i['title']}: {i.get('description', '')}" for i in issues]


def main(path):
    tap = cfn.Tap()
    tap.check("dockerfilelint finds nothing", lint_problems(path))
    instrs = instructions(path)
    st = stages(instrs)
    names = {s[0] for s in st}
    tap.check("base images have pinned tags",
              [f"FROM {b}" for _, b, _ in st if b != "scratch" and b not in names
               and (":" not in b or b.endswith(":latest")) and "@" not in b])
    build = [s for s in st if s[0] == "build"]
    tap.check("the build stage runs CI's setup and build scripts, and nothing else",
              build_stage_problems(build[0]) if build else ["no stage named build"])
    runtime = [s for s in st if s[0] in ("cloudmap-sd", "webapp")]
    tap.check("runtime stages cloudmap-sd and webapp exist",
              [] if len(runtime) == 2 else [f"stages: {sorted(n for n in names if n)}"])
    for s in runtime:
        tap.check(f"runtime stage {s[0]}: non-root, health probe, labels",
                  runtime_stage_problems(s))
    tap.check("no instruction names an architecture",
              [f"{w} {a}" for w, a in instrs if ARCH_WORDS.search(a)])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(cfn.REPO, "Dockerfile")))
