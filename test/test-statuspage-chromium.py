#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test-statuspage-chromium: the status page as a person sees it.

Starts the AWS fake with a Cloud Map that holds a scraped service and
instances that cannot be scraped (no METRICS_PATH tag, no address, a bad
port whose value is markup), starts cloudmap-sd on a free loopback port,
waits for /-/ready, then loads GET / in Debian's headless Chromium: the
DOM it builds (--dump-dom) must show the heading, the state banner in
words, the services with their counts and every unscraped instance with
its reason, and no <script>; screenshots at phone (390x844) and desktop
(1280x900) sizes are kept as test artifacts and checked to be real PNGs
of the right width.

Python 3 standard library only; prints TAP. Every wait polls with a
deadline; everything started is stopped at the end.
"""

import html.parser
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, 'fake', 'fakeaws.py')
POLL_SEC = 0.05  # how often a wait looks again; not a synchronisation
FAKE_READY_SEC = 20
DAEMON_READY_SEC = 20
CHROMIUM_SEC = 90
STOP_SEC = 5
PHONE = (390, 844)
DESKTOP = (1280, 900)
EVIL_PORT = '<script>alert(1)</script>'

WORLD = {'namespaces': [
    {'Name': 'prod', 'Type': 'HTTP', 'services': [
        {'Name': 'api', 'Tags': {'METRICS_PATH': '/metrics'}, 'instances': [
            {'Id': 'i-api-1',
             'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.1', 'AWS_INSTANCE_PORT': '9100'}},
            {'Id': 'i-api-2',
             'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.2', 'AWS_INSTANCE_PORT': '9100'}},
            {'Id': 'i-api-bad-port',
             'Attributes': {'AWS_INSTANCE_IPV4': '10.0.0.3', 'METRICS_PORT': EVIL_PORT}},
            {'Id': 'i-api-no-address', 'Attributes': {'AWS_INSTANCE_PORT': '9100'}},
        ]},
        {'Name': 'worker', 'instances': [
            {'Id': 'i-worker-1', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.1.1'}},
        ]},
    ]},
    {'Name': 'staging', 'Type': 'HTTP', 'services': [
        {'Name': 'web', 'Tags': {'METRICS_PATH': '/metrics', 'METRICS_PORT': '8080'},
         'instances': [
             {'Id': 'i-web-1', 'Attributes': {'AWS_INSTANCE_IPV4': '10.0.2.1'}},
         ]},
    ]},
]}

# (service, targets, not scraped) rows, and (instance, reason words).
SERVICE_ROWS = [('api', '2', '2'), ('worker', '0', '1'), ('web', '1', '0')]
SKIPPED = [
    ('i-api-bad-port', 'bad port'),
    ('i-api-no-address', 'no usable AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 attribute'),
    ('i-worker-1', 'service has no METRICS_PATH tag'),
]


# ---- processes ----

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(POLL_SEC)
    raise AssertionError(f'{what}: not within {timeout} s (last: {last!r})')


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_SEC)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_fake(tmp):
    state, ready = os.path.join(tmp, 'state.json'), os.path.join(tmp, 'ready.json')
    with open(state, 'w') as f:
        json.dump(WORLD, f)
    proc = subprocess.Popen([sys.executable, FAKE, 'serve', '--ready-file', ready, '--state',
                             state], stdin=subprocess.DEVNULL)

    def ready_now():
        if proc.poll() is not None:
            raise AssertionError(f'the AWS fake exited ({proc.returncode})')
        return os.path.exists(ready)
    try:
        wait_for(ready_now, FAKE_READY_SEC, 'the AWS fake writes its ready file')
    except AssertionError:
        stop(proc)
        raise
    with open(ready) as f:
        return proc, json.load(f)


def daemon_env(info, tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('AWS_', 'CLOUDMAP_SD_', 'ECS_CONTAINER_METADATA_URI'))}
    env.update({
        'AWS_ENDPOINT_URL': info['aws'], 'AWS_REGION': info['region'],
        'AWS_EC2_METADATA_DISABLED': 'true',
        'AWS_ACCESS_KEY_ID': info['access_key_id'],
        'AWS_SECRET_ACCESS_KEY': info['secret_access_key'],
        'AWS_CONFIG_FILE': os.path.join(tmp, 'no-aws-config'),
        'AWS_SHARED_CREDENTIALS_FILE': os.path.join(tmp, 'no-aws-credentials'),
    })
    return env


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_daemon(info, tmp):
    port = free_port()
    log = open(os.path.join(tmp, 'cloudmap-sd.log'), 'wb')
    proc = subprocess.Popen([os.environ['CLOUDMAP_SD_BINARY'],
                             f'--web.listen-address=127.0.0.1:{port}'],
                            env=daemon_env(info, tmp), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f'http://127.0.0.1:{port}'

    def ready_now():
        if proc.poll() is not None:
            raise AssertionError(f'cloudmap-sd exited ({proc.returncode})')
        return http_get(url + '/-/ready', timeout=1)[0] == 200
    try:
        wait_for(ready_now, DAEMON_READY_SEC, 'cloudmap-sd answers /-/ready with 200')
    except AssertionError:
        stop(proc)
        with open(os.path.join(tmp, 'cloudmap-sd.log'), errors='replace') as f:
            print('# ' + f.read()[-2000:].replace('\n', '\n# '))
        raise
    return proc, url


def chromium(tmp, *args):
    """Runs headless Chromium with a fresh profile; returns its stdout."""
    profile = tempfile.mkdtemp(prefix='chromium-', dir=tmp)
    argv = ['chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--hide-scrollbars', f'--user-data-dir={profile}', *args]
    env = dict(os.environ, HOME=tmp)
    res = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=CHROMIUM_SEC)
    if res.returncode != 0:
        raise AssertionError(f'chromium exited {res.returncode}: '
                             f'{res.stderr.decode(errors="replace")[-1500:]}')
    return res.stdout.decode()


def artifacts_dir():
    base = os.environ.get('TEST_BUILDDIR') or os.environ.get('MESON_BUILD_ROOT')
    path = os.path.join(base, 'artifacts') if base else tempfile.mkdtemp(prefix='artifacts-')
    os.makedirs(path, exist_ok=True)
    return path


# ---- what the DOM shows ----

class Dom(html.parser.HTMLParser):
    """The parts of the page a person reads: every element's tag, the
    text of headings and of the banner, and each table row's cells."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.h1, self.h2, self.h3, self.banner, self.rows = [], [], [], [], [], []
        self._text = None  # (kind, parts) being collected
        self._row = self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        cls = dict(attrs).get('class') or ''
        if tag in ('h1', 'h2', 'h3') or (tag == 'div' and 'banner' in cls.split()):
            self._text = (tag if tag != 'div' else 'banner', [], tag)
        elif tag == 'tr':
            self._row = []
        elif tag in ('td', 'th') and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if self._text and tag == self._text[2]:
            getattr(self, self._text[0]).append(' '.join(''.join(self._text[1]).split()))
            self._text = None
        elif tag in ('td', 'th') and self._cell is not None:
            self._row.append(' '.join(''.join(self._cell).split()))
            self._cell = None
        elif tag == 'tr' and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        if tag == 'br' and self._cell is not None:
            self._cell.append(' ')

    def handle_data(self, data):
        if self._text:
            self._text[1].append(data)
        if self._cell is not None:
            self._cell.append(data)


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        raise AssertionError(f'{path} is not a PNG')
    return struct.unpack('>II', head[16:24])


# ---- cases ----

def case_heading(ctx):
    dom = ctx['dom']
    assert dom.h1 and dom.h1[0].startswith('cloudmap-sd version '), dom.h1
    for title in ('Last refresh', 'Targets per namespace and service', 'Not scraped',
                  'Build and configuration'):
        assert title in dom.h2, f'no heading {title!r} in {dom.h2}'


def case_banner(ctx):
    banner = ctx['dom'].banner
    assert len(banner) == 1, banner
    assert banner[0].startswith('OK '), banner  # in words, not only a colour


def case_service_rows(ctx):
    rows = [tuple(r) for r in ctx['dom'].rows]
    for row in SERVICE_ROWS:
        assert row in rows, f'no row {row} in {rows}'
    assert any(h.startswith('Namespace prod') for h in ctx['dom'].h3), ctx['dom'].h3
    assert any(h.startswith('Namespace staging') for h in ctx['dom'].h3), ctx['dom'].h3


def case_skipped_with_reasons(ctx):
    rows = {r[0]: r[1] for r in ctx['dom'].rows if len(r) == 2}
    for instance, reason in SKIPPED:
        assert instance in rows, f'{instance} not listed: {rows}'
        assert rows[instance].startswith(reason), f'{instance}: {rows[instance]!r}'
    assert EVIL_PORT in rows['i-api-bad-port'], rows['i-api-bad-port']  # shown as text
    assert 'prod / worker · 1 not scraped' in ctx['dom'].h3, ctx['dom'].h3


def case_no_script(ctx):
    assert 'script' not in ctx['dom'].tags, 'a <script> element in the DOM'
    assert '<script' not in ctx['raw'].lower().replace('&lt;script', ''), 'raw <script>'


def case_summary(ctx):
    rows = {r[0]: r[1] for r in ctx['dom'].rows if len(r) == 2}
    assert rows.get('Region') == 'us-east-1', rows.get('Region')
    assert rows.get('Namespaces') == 'all', rows.get('Namespaces')
    assert 'Listen address' in rows and 'Started' in rows, rows


def check_screenshot(ctx, name, size):
    path = os.path.join(ctx['artifacts'], f'statuspage-{name}.png')
    if os.path.exists(path):
        os.unlink(path)
    chromium(ctx['tmp'], f'--window-size={size[0]},{size[1]}', f'--screenshot={path}',
             ctx['url'] + '/')
    print(f'# screenshot: {path}')
    assert os.path.exists(path), f'no screenshot at {path}'
    width, height = png_size(path)
    assert (width, height) == size, f'{path} is {width}x{height}, want {size}'
    assert os.path.getsize(path) > 10000, f'{path}: {os.path.getsize(path)} bytes'


def case_phone_screenshot(ctx):
    check_screenshot(ctx, 'phone', PHONE)


def case_desktop_screenshot(ctx):
    check_screenshot(ctx, 'desktop', DESKTOP)


def case_json(ctx):
    status, body = http_get(ctx['url'] + '/api/v1/status')
    assert status == 200, status
    doc = json.loads(body)
    assert doc['state'] == 'ok', doc['state']
    t = doc['targets']
    assert t['total'] == 3 and t['skipped_total'] == 3, (t['total'], t['skipped_total'])
    got = sorted((k['instance_id'], k['reason']) for k in t['skipped'])
    assert got == [('i-api-bad-port', 'bad_port'), ('i-api-no-address', 'no_address'),
                   ('i-worker-1', 'no_metrics_path')], got


CASES = [
    ('the page has the heading and the sections', case_heading),
    ('the banner says the state in words', case_banner),
    ('every service is a row with its counts', case_service_rows),
    ('every unscraped instance is listed with its reason', case_skipped_with_reasons),
    ('there is no script, and markup from AWS is text', case_no_script),
    ('the configuration summary is shown', case_summary),
    ('a phone-sized screenshot is kept', case_phone_screenshot),
    ('a desktop-sized screenshot is kept', case_desktop_screenshot),
    ('the JSON says the same', case_json),
]


def setup(ctx):
    ctx['fake'], info = start_fake(ctx['tmp'])
    ctx['daemon'], ctx['url'] = start_daemon(info, ctx['tmp'])
    ctx['raw'] = chromium(ctx['tmp'], '--dump-dom', ctx['url'] + '/')
    ctx['dom'] = Dom(ctx['raw'])
    ctx['artifacts'] = artifacts_dir()


def main():
    if not shutil.which('chromium'):
        # Never skipped: scripts/setup.sh installs it, and a missing browser
        # must fail the suite rather than pass it silently.
        print('Bail out! Debian\'s chromium is not installed (scripts/setup.sh installs it)')
        return 1
    if not os.environ.get('CLOUDMAP_SD_BINARY'):
        print('Bail out! CLOUDMAP_SD_BINARY is not set')
        return 1
    print(f'1..{len(CASES)}', flush=True)
    ctx = {'tmp': tempfile.mkdtemp(prefix='statuspage-chromium-')}
    failed = 0
    try:
        try:
            setup(ctx)
            broken = None
        except (AssertionError, OSError, subprocess.SubprocessError) as e:
            broken = e
        for i, (name, fn) in enumerate(CASES, 1):
            try:
                if broken:
                    raise AssertionError(f'setup failed: {broken}')
                fn(ctx)
                print(f'ok {i} - {name}', flush=True)
            except (AssertionError, OSError, subprocess.SubprocessError, KeyError) as e:
                failed += 1
                print(f'# {e!r}'.replace('\n', '\n# '))
                print(f'not ok {i} - {name}', flush=True)
    finally:
        stop(ctx.get('daemon'))
        stop(ctx.get('fake'))
        shutil.rmtree(ctx['tmp'], ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
