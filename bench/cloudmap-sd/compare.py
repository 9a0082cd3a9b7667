#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare: GET /targets under wrk for several cloudmap-sd builds side by
side, each against nginx serving the same bytes, in one command.

  bench/cloudmap-sd/compare.py [--rounds N] [--duration SEC] [--services N]
      NAME=BINARY[,ENV=VALUE...] ...

Every build discovers the same world (SERVICES x 500 instances; 2 is 1k
targets, 20 is 10k) from one fake, which is then stopped; the builds and
nginx are all up at once but only one is loaded at a time, in a shuffled
order each round. It prints every round, then per build the medians and
the ratios to nginx (req/s ours / nginx, p99 nginx / ours) and the lowest
and median ratio of p99 paired by round. bench.py's figure 1 is the
reference measurement; this is for choosing between builds or settings.
Example: the previous build against this one:

  CURRENT=build-bench/cloudmap-sd PREVIOUS=/tmp/prev/build-bench/cloudmap-sd
  bench/cloudmap-sd/compare.py now=$CURRENT previous=$PREVIOUS
"""

import argparse
import os
import random
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--duration', type=int, default=8, help='seconds per wrk round')
    p.add_argument('--services', type=int, default=2, help='x 500 instances')
    p.add_argument('builds', nargs='+', metavar='NAME=BINARY[,ENV=VALUE...]')
    opts = p.parse_args()
    opts.wrk_threads, opts.connections = 2, 32
    builds = {}
    for item in opts.builds:
        name, eq, rest = item.partition('=')
        binary, *envs = rest.split(',')
        if not eq or not name or not binary or name == 'nginx' or name in builds:
            p.error(f'{item!r}: want a new NAME=BINARY (not nginx)')
        if not all('=' in e for e in envs):
            p.error(f'{item!r}: the environment is ENV=VALUE')
        builds[name] = (binary, dict(e.split('=', 1) for e in envs))
    opts.builds = builds
    return opts


def main():
    opts = parse_args()
    print(f'machine: {bench.machine()}')
    tmp = tempfile.mkdtemp(prefix='cloudmap-sd-compare-')
    state = bench.write_world(tmp, opts.services, 500, 'world')
    urls, body = {}, None
    with bench.BackgroundLoad() as load, bench.phase() as procs:
        fake = bench.Fake(procs, tmp, state)
        for name, (binary, env) in opts.builds.items():
            bench.Daemon.extra_env = env
            d = bench.Daemon(procs, tmp, binary, fake.info, fake.info['aws'],
                             ['--refresh.interval=1h', '--refresh.full-interval=1h',
                              '--refresh.max-staleness=2h'], name=name)
            served = d.targets()
            if body is not None and served != body:
                raise bench.BenchError(f'{name} serves other bytes than the first build')
            body = served
            urls[name] = f'{d.url}/targets'
        procs.stop(fake.proc)
        nginx = bench.Nginx(procs, tmp, body, os.cpu_count())
        urls['nginx'] = f'{nginx.url}/targets'
        names = list(urls)
        for name in names:
            bench.wrk(urls[name], opts, 2)  # warm-up
        res = {name: [] for name in names}
        for i in range(opts.rounds):
            for name in random.sample(names, len(names)):
                r = bench.wrk(urls[name], opts, opts.duration)
                res[name].append(r)
                print(f'round {i + 1} {name:>12}: {r["rps"]:8.1f} req/s, p99 {r["p99_ms"]:7.2f} ms,'
                      f' slowest {r["max_ms"]:7.2f} ms, {r["errors"]} errors', flush=True)
    print(f'{len(body)} bytes of JSON; CPU used by other processes meanwhile: '
          f'{load.cores:.2f} cores')
    ng = res['nginx']
    ng_rps = statistics.median(r['rps'] for r in ng)
    ng_p99 = statistics.median(r['p99_ms'] for r in ng)
    for name in names:
        rps = statistics.median(r['rps'] for r in res[name])
        p99 = statistics.median(r['p99_ms'] for r in res[name])
        paired = [n['p99_ms'] / r['p99_ms'] for n, r in zip(ng, res[name])]
        print(f'{name:>12}: {rps:8.1f} req/s ({rps / ng_rps:.2f}x), p99 {p99:7.2f} ms '
              f'({ng_p99 / p99:.2f}x); p99 ratio by round: lowest {min(paired):.2f}, '
              f'median {statistics.median(paired):.2f}')


if __name__ == '__main__':
    try:
        main()
    except bench.BenchError as e:
        sys.exit(f'compare: {e}')
