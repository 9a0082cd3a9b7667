# SPDX-License-Identifier: Apache-2.0
"""paging: how list operations split their results into pages.

Each operation answers at most min(MaxResults or its default, the admin's
page_size) items per page. empty_pages inserts that many empty pages, each
still carrying a NextToken, before the first real page of every listing:
a client that stops at the first empty page misses everything. NextToken is
opaque (base64 of JSON) and bound to the request's filters: reusing it with
other filters, or sending garbage, is answered InvalidInput.
"""

import base64
import hashlib
import json

from .errors import invalid_input

CONFIG_KEYS = {'page_size', 'empty_pages'}


class Paging:
    def __init__(self, world):
        self.world = world
        self.config = {}

    def reset(self):
        with self.world.lock:
            self.config = {}

    def configure(self, operation, settings):
        """Sets page_size (positive int or None) and empty_pages (int >= 0)
        for operation. ValueError on bad settings."""
        unknown = set(settings) - CONFIG_KEYS
        if unknown:
            raise ValueError(f'unknown paging settings: {", ".join(sorted(unknown))}')
        size = settings.get('page_size')
        empties = settings.get('empty_pages', 0)
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ValueError('page_size must be a positive integer or null')
        if not isinstance(empties, int) or empties < 0:
            raise ValueError('empty_pages must be a non-negative integer')
        with self.world.lock:
            self.config[operation] = {'page_size': size, 'empty_pages': empties}

    def list(self):
        with self.world.lock:
            return {op: dict(c) for op, c in self.config.items()}

    def paginate(self, operation, items, max_results, default_max, next_token, binding):
        """Returns (page, next_token or None) of items. binding is any JSON
        value that identifies the listing (its filters)."""
        with self.world.lock:
            cfg = dict(self.config.get(operation, {'page_size': None, 'empty_pages': 0}))
        bind = hashlib.sha256(json.dumps(binding, sort_keys=True).encode()).hexdigest()[:16]
        offset, empties = _decode(next_token, bind) if next_token else (0, 0)
        if offset == 0 and empties < cfg['empty_pages']:
            return [], _encode(0, empties + 1, bind)
        size = max_results or default_max
        if cfg['page_size']:
            size = min(size, cfg['page_size'])
        page = items[offset:offset + size]
        more = offset + size < len(items)
        return page, (_encode(offset + size, empties, bind) if more else None)


def _encode(offset, empties, bind):
    raw = json.dumps({'o': offset, 'e': empties, 'b': bind}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token, bind):
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, empties, token_bind = int(data['o']), int(data['e']), data['b']
    except (ValueError, KeyError, TypeError):
        raise invalid_input('The NextToken is not valid.') from None
    if token_bind != bind or offset < 0:
        raise invalid_input('The NextToken does not belong to this request: '
                            'the filters changed between pages.')
    return offset, empties
