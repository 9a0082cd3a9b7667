# SPDX-License-Identifier: Apache-2.0
"""world: the root of the fake's state, shared by every listener thread.

One re-entrant lock (World.lock) guards all mutable state of every store;
stores take it for each public method, so callers need not. The clock is
the wall clock plus an offset the admin API may set, so tests can move
time forward (token and credential expiry, signature skew) without
sleeping. World.stop is set when the process shuts down; anything that
waits (hang faults, drips, latency) watches it.
"""

import copy
import threading
import time

from . import cloudmap, creds, faults, journal, paging, parameters

DEFAULT_SETTINGS = {
    'region': 'us-east-1',
    'account_id': '123456789012',
    'clock_offset_sec': 0,
    # Prepended to error codes in JSON "__type" (e.g.
    # "com.amazonaws.servicediscovery#"), as some AWS services do.
    'error_type_prefix': '',
    # GetOperation answers PENDING this many times before SUCCESS.
    'operation_pending_polls': 0,
}

SETTING_TYPES = {
    'region': str,
    'account_id': str,
    'clock_offset_sec': (int, float),
    'error_type_prefix': str,
    'operation_pending_polls': int,
}


class World:
    def __init__(self, models, initial_state=None):
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.models = models
        self.initial_state = initial_state
        self.settings = {}
        self.creds = creds.CredentialStore(self)
        self.web_identity = creds.WebIdentity(self)
        self.cloudmap = cloudmap.CloudMap(self)
        self.parameters = parameters.ParameterStore(self)
        self.journal = journal.Journal(self)
        self.faults = faults.FaultTable(self)
        self.paging = paging.Paging(self)
        self.extensions = []  # objects with reset(), e.g. the ECS and IMDS fakes
        self.reset()

    def now(self):
        """Seconds since the epoch on the fake's clock."""
        return time.time() + self.settings['clock_offset_sec']

    def region(self):
        with self.lock:
            return self.settings['region']

    def account_id(self):
        with self.lock:
            return self.settings['account_id']

    def setting(self, name):
        with self.lock:
            return self.settings[name]

    def update_settings(self, changes):
        """Merges changes into the settings; raises ValueError on unknown
        names or wrong types, changing nothing then."""
        for name, value in changes.items():
            want = SETTING_TYPES.get(name)
            if want is None:
                raise ValueError(f'unknown setting {name!r}')
            if isinstance(value, bool) or not isinstance(value, want):
                raise ValueError(f'setting {name!r} has the wrong type')
        with self.lock:
            self.settings.update(changes)

    def reset(self):
        """Back to the state the process started with."""
        with self.lock:
            self.settings = dict(DEFAULT_SETTINGS)
            for store in (self.creds, self.web_identity, self.cloudmap, self.parameters,
                          self.journal, self.faults, self.paging):
                store.reset()
            for ext in self.extensions:
                ext.reset()
            if self.initial_state is not None:
                self.load_state(copy.deepcopy(self.initial_state))

    def load_state(self, state):
        """Replaces the Cloud Map state (and the SSM parameters when the
        document has "ssm_parameters"). Raises ValueError on a bad document."""
        if not isinstance(state, dict):
            raise ValueError('the state must be a JSON object')
        with self.lock:
            self.cloudmap.load(state)
            if 'ssm_parameters' in state:
                self.parameters.load(state['ssm_parameters'])

    def dump_state(self):
        with self.lock:
            state = self.cloudmap.dump()
            state['ssm_parameters'] = self.parameters.dump()
            return state
