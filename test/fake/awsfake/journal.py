# SPDX-License-Identifier: Apache-2.0
"""journal: what the fake saw, for tests to assert on.

Every request gets an entry (bounded log, newest last) with its verdict:
"accepted" (authenticated and valid; it may still get a fault or an error
answer such as ServiceNotFound) or "rejected" (AWS would have refused it:
bad signature, unknown operation, invalid input). Rejected AWS-port
requests are also kept in their own list, so a test can assert that no
request was rejected. Per-operation counters: total, accepted, rejected,
faulted. Methods take the world's lock.
"""

import collections

MAX_ENTRIES = 5000
MAX_REJECTIONS = 1000


class Journal:
    def __init__(self, world):
        self.world = world
        self.entries = collections.deque(maxlen=MAX_ENTRIES)
        self.rejected = collections.deque(maxlen=MAX_REJECTIONS)
        self.counters = {}
        self.seq = 0

    def reset(self):
        with self.world.lock:
            self.clear_requests()
            self.counters = {}

    def clear_requests(self):
        with self.world.lock:
            self.entries.clear()
            self.rejected.clear()

    def record(self, entry):
        """Adds entry (a dict with at least listener, operation, verdict,
        status) and counts it; returns its sequence number."""
        with self.world.lock:
            self.seq += 1
            entry = dict(entry, seq=self.seq, time_unix=self.world.now())
            self.entries.append(entry)
            if entry['verdict'] == 'rejected' and entry['listener'] == 'aws':
                self.rejected.append(entry)
            self._count(entry)
            return self.seq

    def _count(self, entry):
        op = entry.get('operation') or '(unknown)'
        c = self.counters.setdefault(op, {'total': 0, 'accepted': 0, 'rejected': 0,
                                          'faulted': 0})
        c['total'] += 1
        c['accepted' if entry['verdict'] == 'accepted' else 'rejected'] += 1
        if entry.get('fault'):
            c['faulted'] += 1

    def requests(self):
        with self.world.lock:
            return list(self.entries)

    def rejections(self):
        with self.world.lock:
            return list(self.rejected)

    def calls(self):
        with self.world.lock:
            return {op: dict(c) for op, c in self.counters.items()}

    def reset_calls(self):
        with self.world.lock:
            self.counters = {}
