#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""fakeaws: runs the local AWS fakes (see README.md).

  fakeaws.py serve [--ready-file PATH] [--state FILE.json]
                   [--tls-cert CERT --tls-key KEY] [--exit-with-parent]

Listens on 127.0.0.1 (ports chosen by the OS). Once every port listens it
writes the ready file atomically: {"aws", "admin", "ecs", "imds" (URLs),
"access_key_id", "secret_access_key" (the default test credential),
"region", "pid"}. Quiet unless something breaks; stops cleanly on SIGTERM
or SIGINT, and with --exit-with-parent also when its parent process dies
(so a killed test runner leaves no fake behind).
"""

import argparse
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from awsfake import Fake  # noqa: E402
from awsfake.creds import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY  # noqa: E402


def write_ready_file(path, fake):
    info = dict(fake.urls(), access_key_id=DEFAULT_ACCESS_KEY_ID,
                secret_access_key=DEFAULT_SECRET_ACCESS_KEY,
                region=fake.world.region(), pid=os.getpid())
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


def load_state(path):
    if path is None:
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f'fakeaws: cannot load the state {path}: {e}')


def serve(args):
    if bool(args.tls_cert) != bool(args.tls_key):
        sys.exit('fakeaws: --tls-cert and --tls-key go together')
    parent = os.getppid()
    try:
        fake = Fake(load_state(args.state), args.tls_cert, args.tls_key)
    except ValueError as e:
        sys.exit(f'fakeaws: {e}')
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.set())
    fake.start()
    if args.ready_file:
        write_ready_file(args.ready_file, fake)
    while not stopping.wait(1.0):
        if args.exit_with_parent and os.getppid() != parent:
            break
    fake.stop()
    return 0


def main():
    parser = argparse.ArgumentParser(prog='fakeaws.py', description='local AWS fakes')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('serve', help='run the fakes until SIGTERM/SIGINT')
    p.add_argument('--ready-file', help='write the URLs here (atomically) once listening')
    p.add_argument('--state', help='load this Cloud Map state (JSON) at start and on reset')
    p.add_argument('--tls-cert', help='serve the AWS port over TLS with this certificate')
    p.add_argument('--tls-key', help='the private key of --tls-cert')
    p.add_argument('--exit-with-parent', action='store_true',
                   help='stop when the parent process dies')
    args = parser.parse_args()
    return serve(args)


if __name__ == '__main__':
    sys.exit(main())
