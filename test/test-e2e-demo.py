#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-e2e-demo: the local demo (scripts/demo.py) end to end (suite 'e2e').

Runs the real demo: the local Cloud Map (the AWS fake), three web apps on
127.0.0.2-4, Debian's node exporter and prometheus, cloudmap-sd. Cases:
  - check mode: `demo.py --check` exits 0. It requires, itself, that
    Prometheus reports every target up with the relabeled labels, that the
    three queries of issue 5 answer numbers, that a web app stopped and
    deregistered leaves Prometheus's active targets, and that the local Cloud
    Map refused no request; a failure exits 1 naming what did not happen;
  - a port already taken (on 127.0.0.1, or on one web app's address only) is
    named with its flag, with a non-zero exit, before anything starts;
  - SIGINT or SIGTERM to the demo in its interactive mode, once up: exit 0,
    everything stopped; SIGKILL: everything stopped all the same;
  - a process that dies while the demo starts: exit 1 naming it, everything
    stopped.
After each case no process the demo started is left: every one inherits a
marker variable from the demo's environment, and `ps e` (which shows each
process's environment) must not find it.

  test-e2e-demo.py WEBAPP_BINARY    (CLOUDMAP_SD_BINARY from the environment)

Prints TAP.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'daemon'))

from harness import run_cases, stop_process, track, wait_for  # noqa: E402

DEMO = os.path.join(os.path.dirname(HERE), 'scripts', 'demo.py')
CHECK_SEC = 150  # the check needs ~25 s on an idle machine; its own deadlines are 60 s each
READY_SEC = 60
STOP_SEC = 30  # the demo's own deadline is 10 s of SIGTERM, then SIGKILL
FAIL_SEC = 60
MARKER = 'CLOUDMAP_DEMO_TEST_MARKER'


def binaries():
    sd = os.environ.get('CLOUDMAP_SD_BINARY', '')
    webapp = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('WEBAPP_BINARY', '')
    for path in (sd, webapp):
        if not path or not os.access(path, os.X_OK):
            raise SystemExit('usage: test-e2e-demo.py WEBAPP_BINARY, with CLOUDMAP_SD_BINARY set')
    return sd, webapp


class Run:
    """One run of demo.py with a marker of its own in its environment, its
    output in a file."""

    def __init__(self, *args, webapp=None, ready_file=False):
        sd, default_webapp = binaries()
        self.marker = uuid.uuid4().hex
        self.tmp = tempfile.mkdtemp(prefix='demotest-')
        self.out_path = os.path.join(self.tmp, 'out.txt')
        self.ready_path = os.path.join(self.tmp, 'ready.json')
        if ready_file:
            args += ('--ready-file', self.ready_path)
        env = dict(os.environ, **{MARKER: self.marker})
        self.argv = [sys.executable, DEMO, '--cloudmap-sd', sd,
                     '--webapp', webapp or default_webapp, *args]
        with open(self.out_path, 'wb') as out:
            self.proc = track(subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                               stdout=out, stderr=subprocess.STDOUT))

    def output(self):
        with open(self.out_path, errors='replace') as f:
            return f.read()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'demo.py did not exit within {timeout} s:\n'
                                 f'{self.output()}') from None

    def leftovers(self):
        """`ps e` lines of the processes that carry this run's marker."""
        ps = subprocess.run(['ps', 'axeww', '-o', 'pid=,args='], capture_output=True, text=True,
                            check=True)
        return [line[:200] for line in ps.stdout.splitlines()
                if f'{MARKER}={self.marker}' in line]

    def assert_nothing_left(self):
        """No process of the run is left (polled: a killed orphan may take a
        moment to be reaped by init). Kills and names what is."""
        try:
            wait_for(lambda: not self.leftovers(), 5, 'every process of the demo is gone')
        except AssertionError:
            left = self.kill_leftovers()
            raise AssertionError('processes of the demo left behind (now killed):\n' +
                                 '\n'.join(left)) from None

    def kill_leftovers(self):
        left = self.leftovers()
        for line in left:
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left

    def kept_logs(self):
        """The logs dir the demo said it kept, if it said so."""
        for line in self.output().splitlines():
            if 'the logs are kept in' in line:
                return line.rsplit(' ', 1)[1].rstrip('/')
        return None

    def kept_log_tails(self, lines=20):
        """The end of every log the demo kept (it keeps them on failure)."""
        logs = self.kept_logs()
        if not logs or not os.path.isdir(logs):
            return ''
        out = []
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), errors='replace') as f:
                tail = f.read().splitlines()[-lines:]
            out += [f'--- {name}'] + tail
        return '\n'.join(out)

    def cleanup(self):
        stop_process(self.proc, signal.SIGKILL)
        self.kill_leftovers()
        logs = self.kept_logs()
        if logs and os.path.basename(os.path.dirname(logs)).startswith('cloudmap-sd-demo-'):
            shutil.rmtree(os.path.dirname(logs), ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def finish(run, want_rc, timeout):
    """Waits for the run to exit with want_rc and checks that nothing is
    left; the output."""
    try:
        rc = run.wait(timeout)
        out = run.output()
        assert rc == want_rc, (f'demo.py exited {rc}, want {want_rc}:\n{out}\n'
                               f'{run.kept_log_tails()}')
        run.assert_nothing_left()
        return out
    finally:
        run.cleanup()


def case_check_mode_targets_up_queries_answer_deregistered_webapp_disappears(_):
    start = time.monotonic()
    out = finish(Run('--check'), 0, CHECK_SEC)
    for line in ('all 5 targets up', 'the queries answer', 'gone from Prometheus', 'check: OK'):
        assert line in out, f'no {line!r} in:\n{out}'
    print(f'# the check took {time.monotonic() - start:.1f} s')


def listen(host):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen()
    return s


def case_a_port_taken_is_named_with_its_flag_before_anything_starts(_):
    with listen('127.0.0.1') as taken:
        port = taken.getsockname()[1]
        out = finish(Run('--free-ports', f'--prometheus-port={port}'), 1, FAIL_SEC)
    want = (f'demo: port {port} on 127.0.0.1 (for Prometheus) is already in use: '
            'choose another with --prometheus-port=PORT')
    assert want in out, f'no {want!r} in:\n{out}'
    assert 'Starting' not in out, f'it started something:\n{out}'


def case_a_webapp_port_taken_on_one_address_only_is_named(_):
    with listen('127.0.0.3') as taken:
        port = taken.getsockname()[1]
        out = finish(Run('--free-ports', f'--webapp-port={port}'), 1, FAIL_SEC)
    want = (f'demo: port {port} on 127.0.0.3 (for the web apps) is already in use: '
            'choose another with --webapp-port=PORT')
    assert want in out, f'no {want!r} in:\n{out}'
    assert 'Starting' not in out, f'it started something:\n{out}'


def start_interactive():
    """demo.py in its interactive mode on free ports, once up: the run and
    the children its ready file names."""
    run = Run('--free-ports', ready_file=True)
    try:
        wait_for(lambda: os.path.exists(run.ready_path) or run.proc.poll() is not None,
                 READY_SEC, 'the demo is up')
        assert run.proc.poll() is None, f'demo.py exited {run.proc.returncode}:\n{run.output()}'
        with open(run.ready_path) as f:
            children = json.load(f)['children']
        # the local Cloud Map, 3 web apps, the node exporter, cloudmap-sd, Prometheus
        assert len(children) == 7, children
        alive = run.leftovers()
        assert len(alive) == 8, 'want the demo and its 7 children:\n' + '\n'.join(alive)
    except BaseException:
        run.cleanup()
        raise
    return run


def case_sigint_stops_every_process(_):
    run = start_interactive()
    run.proc.send_signal(signal.SIGINT)
    out = finish(run, 0, STOP_SEC)
    assert 'SIGINT: stopping' in out, out


def case_sigterm_stops_every_process(_):
    run = start_interactive()
    run.proc.send_signal(signal.SIGTERM)
    out = finish(run, 0, STOP_SEC)
    assert 'SIGTERM: stopping' in out, out


def case_a_killed_demo_leaves_nothing_running(_):
    """SIGKILL cannot be caught: PR_SET_PDEATHSIG stops the children."""
    run = start_interactive()
    with open(run.ready_path) as f:
        demo_tmp = json.load(f)['tmp']  # the demo had no chance to remove it
    try:
        run.proc.send_signal(signal.SIGKILL)
        finish(run, -signal.SIGKILL, STOP_SEC)
    finally:
        shutil.rmtree(demo_tmp, ignore_errors=True)


def case_a_process_dying_at_start_stops_everything(_):
    out = finish(Run('--free-ports', webapp='/bin/false'), 1, FAIL_SEC)
    assert 'demo: webapp-1 exited with status 1' in out, out


def main():
    binaries()
    return run_cases([
        case_check_mode_targets_up_queries_answer_deregistered_webapp_disappears,
        case_a_port_taken_is_named_with_its_flag_before_anything_starts,
        case_a_webapp_port_taken_on_one_address_only_is_named,
        case_sigint_stops_every_process,
        case_sigterm_stops_every_process,
        case_a_killed_demo_leaves_nothing_running,
        case_a_process_dying_at_start_stops_everything,
    ])


if __name__ == '__main__':
    sys.exit(main())
