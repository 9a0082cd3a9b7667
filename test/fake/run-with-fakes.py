#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""run-with-fakes: runs a command beside the local AWS fakes.

  run-with-fakes.py [--state FILE.json] [--tls] -- CMD ARGS...

Starts fakeaws.py as a child, waits (polling, with a deadline) for its ready
file, runs CMD with stdout and stderr passed through, then stops the fake
(SIGTERM, SIGKILL after a deadline) and exits with CMD's exit code. Fails,
saying so, when the fake does not come up or dies while CMD runs.

CMD's environment gets FAKE_AWS_URL, FAKE_ADMIN_URL (ends in /_fake),
FAKE_ECS_URL, FAKE_IMDS_URL, FAKE_TMPDIR (a scratch directory removed at
the end), and for convenience AWS_ENDPOINT_URL, AWS_REGION and
AWS_DEFAULT_REGION (us-east-1), AWS_EC2_METADATA_DISABLED=true and the
fake's default test credential in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
Other AWS_* variables that could point at real credentials or settings
are removed, and the shared config and credentials files point at missing
files, so nothing from the user's own AWS setup leaks in. With --tls the AWS
port speaks HTTPS with a throwaway CA made by the openssl CLI, whose
certificate FAKE_CA_BUNDLE names (AWS_CA_BUNDLE is left to the test).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT_SEC = 20
STOP_TIMEOUT_SEC = 5
POLL_SEC = 0.02
SCRUBBED = (
    'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE',
    'AWS_ROLE_ARN', 'AWS_ROLE_SESSION_NAME', 'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_CA_BUNDLE', 'ECS_CONTAINER_METADATA_URI_V4',
)


def say(message):
    print(f'run-with-fakes: {message}', file=sys.stderr, flush=True)


def parse_args(argv):
    if '--' not in argv:
        sys.exit('usage: run-with-fakes.py [--state FILE.json] [--tls] -- CMD ARGS...')
    split = argv.index('--')
    opts, cmd = argv[:split], argv[split + 1:]
    state, tls = None, False
    while opts:
        opt = opts.pop(0)
        if opt == '--state' and opts:
            state = opts.pop(0)
        elif opt == '--tls':
            tls = True
        else:
            sys.exit(f'run-with-fakes: unknown option {opt}')
    if not cmd:
        sys.exit('run-with-fakes: no command given')
    return state, tls, cmd


def openssl(*args):
    r = subprocess.run(['openssl', *args], capture_output=True, text=True)
    if r.returncode != 0:
        say(f'openssl {args[0]} failed: {r.stderr.strip()}')
        sys.exit(1)


def make_tls(tmp):
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    p = lambda name: os.path.join(tmp, name)  # noqa: E731
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl('req', '-x509', *ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
            '-subj', '/CN=cloudmap-sd fake CA', '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    openssl('req', *ec, '-keyout', p('server.key'), '-out', p('server.csr'),
            '-subj', '/CN=localhost')
    with open(p('server.ext'), 'w') as f:
        f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n'
                'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n')
    openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
            '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('server.ext'))
    return p('server.pem'), p('server.key'), p('ca.pem')


def wait_ready(fake, ready_file):
    deadline = time.monotonic() + READY_TIMEOUT_SEC
    while time.monotonic() < deadline:
        if os.path.exists(ready_file):
            with open(ready_file) as f:
                return json.load(f)
        status = fake.poll()
        if status is not None:
            say(f'the fake exited before it was ready (status {status})')
            sys.exit(1)
        time.sleep(POLL_SEC)
    say(f'the fake was not ready within {READY_TIMEOUT_SEC} s')
    stop(fake)
    sys.exit(1)


def child_env(info, tmp, ca):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({
        'FAKE_AWS_URL': info['aws'], 'FAKE_ADMIN_URL': info['admin'],
        'FAKE_ECS_URL': info['ecs'], 'FAKE_IMDS_URL': info['imds'], 'FAKE_TMPDIR': tmp,
        'AWS_ENDPOINT_URL': info['aws'], 'AWS_REGION': info['region'],
        'AWS_DEFAULT_REGION': info['region'], 'AWS_EC2_METADATA_DISABLED': 'true',
        'AWS_ACCESS_KEY_ID': info['access_key_id'],
        'AWS_SECRET_ACCESS_KEY': info['secret_access_key'],
        'AWS_CONFIG_FILE': os.path.join(tmp, 'no-aws-config'),
        'AWS_SHARED_CREDENTIALS_FILE': os.path.join(tmp, 'no-aws-credentials'),
    })
    if ca:
        env['FAKE_CA_BUNDLE'] = ca
    return env


def stop(fake):
    if fake.poll() is not None:
        return
    fake.terminate()
    try:
        fake.wait(STOP_TIMEOUT_SEC)
    except subprocess.TimeoutExpired:
        say('the fake ignored SIGTERM; killing it')
        fake.kill()
        fake.wait()


def run(state, tls, cmd, tmp):
    fake_cmd = [sys.executable, os.path.join(HERE, 'fakeaws.py'), 'serve', '--exit-with-parent',
                '--ready-file', os.path.join(tmp, 'ready.json')]
    if state:
        fake_cmd += ['--state', state]
    ca = None
    if tls:
        cert, key, ca = make_tls(tmp)
        fake_cmd += ['--tls-cert', cert, '--tls-key', key]
    running = {}

    def on_signal(signum, frame):
        if 'child' not in running:
            raise SystemExit(128 + signum)  # still starting: stop the fake on the way out
        running['child'].send_signal(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake = subprocess.Popen(fake_cmd)
    try:
        info = wait_ready(fake, os.path.join(tmp, 'ready.json'))
        try:
            running['child'] = subprocess.Popen(cmd, env=child_env(info, tmp, ca))
        except OSError as e:
            say(f'cannot run {cmd[0]}: {e}')
            return 127
        status = running['child'].wait()
        if fake.poll() is not None:
            say(f'the fake died while {cmd[0]} ran (status {fake.returncode})')
            status = status or 1
    finally:
        stop(fake)
    return 128 - status if status < 0 else status


def main():
    state, tls, cmd = parse_args(sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix='fakeaws-')
    try:
        return run(state, tls, cmd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
