# SPDX-License-Identifier: Apache-2.0
"""app: builds the fake and runs its listeners.

Fake(state, tls_cert, tls_key) loads the models, builds the world and the
apps; start() opens the listeners (each served by its own thread) and
stop() closes them and wakes every waiting request. The AWS port also
serves the admin API under /_fake/; with TLS on the AWS port, the admin API
also gets a plain-HTTP port of its own, which urls() reports.
"""

import threading

from .admin import PREFIX, AdminApp
from .aws import AwsApp
from .ecs import EcsFake
from .imds import ImdsFake
from .models import Models
from .server import Listener, tls_context
from .world import World


class AwsPortApp:
    """The AWS port: admin routes under /_fake/, AWS requests otherwise."""

    def __init__(self, aws, admin):
        self.aws, self.admin = aws, admin

    def handle(self, req):
        if req.path == PREFIX or req.path.startswith(PREFIX + '/'):
            return self.admin.handle(req)
        return self.aws.handle(req)


class AdminOnlyApp:
    def __init__(self, admin):
        self.admin = admin

    def handle(self, req):
        return self.admin.handle(req)


class Fake:
    def __init__(self, state=None, tls_cert=None, tls_key=None):
        self.world = World(Models(), state)
        self.ecs = EcsFake(self.world)
        self.imds = ImdsFake(self.world)
        self.admin = AdminApp(self.world, self.ecs, self.imds)
        self.tls = tls_context(tls_cert, tls_key) if tls_cert else None
        self.listeners = {}
        self.threads = []

    def start(self):
        stop = self.world.stop
        aws = AwsPortApp(AwsApp(self.world), self.admin)
        self.listeners['aws'] = Listener('aws', aws, stop, self.tls)
        if self.tls:
            self.listeners['admin'] = Listener('admin', AdminOnlyApp(self.admin), stop)
        self.listeners['ecs'] = Listener('ecs', self.ecs, stop)
        self.listeners['imds'] = Listener('imds', self.imds, stop)
        for listener in self.listeners.values():
            t = threading.Thread(target=listener.serve_forever, kwargs={'poll_interval': 0.05},
                                 name=f'listener-{listener.name}', daemon=True)
            t.start()
            self.threads.append(t)

    def urls(self):
        admin = self.listeners.get('admin', self.listeners['aws'])
        return {'aws': self.listeners['aws'].url, 'admin': admin.url + PREFIX,
                'ecs': self.listeners['ecs'].url, 'imds': self.listeners['imds'].url}

    def stop(self):
        self.world.stop.set()
        self.world.faults.clear()
        stoppers = [threading.Thread(target=listener.shutdown)
                    for listener in self.listeners.values()]
        for t in stoppers:
            t.start()
        for t in stoppers + self.threads:
            t.join(timeout=5)
        for listener in self.listeners.values():
            listener.server_close()
