#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints one closing line for all the meson test logs given: the TAP cases
(or whole tests, for those that print no TAP) that passed and failed."""
import json
import os
import sys


def count(path):
    passed = failed = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            ok = t["result"] in ("OK", "EXPECTEDFAIL")
            subs = [l for l in t.get("stdout", "").splitlines()
                    if l.startswith("ok ") or l.startswith("not ok ")]
            if subs:
                good = sum(1 for l in subs if l.startswith("ok "))
                passed += good
                failed += len(subs) - good
                if not ok and good == len(subs):
                    failed += 1  # crashed or timed out after its last case
            elif ok:
                passed += 1
            else:
                failed += 1
    return passed, failed


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        if not os.path.exists(path):
            print(f"test-summary: no {path}: that run did not happen (counted as 1 failed)")
            failed += 1
            continue
        p, f = count(path)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")


if __name__ == "__main__":
    main()
