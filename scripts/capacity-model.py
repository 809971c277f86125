#!/usr/bin/env python3
"""The capacity model of docs/capacity.md, from the costs that
scripts/bench-capacity.sh measured:

    scripts/capacity-model.py costs DIR            the cost of one call of each kind
    scripts/capacity-model.py model DIR            10k / 100k / 1M terminals
    scripts/capacity-model.py check DIR CHECKDIR   the model against a measured fleet

DIR holds the cost runs (baseline.json, logon.json, ..., journal.*);
CHECKDIR the check run (check.json).
"""
import json
import os
import sys

# A counter's day (docs/capacity.md, "A terminal's day"): calls per
# terminal per day, and in the peak hour.
DAY = {'logon': 3, 'lock': 40, 'touch': 600, 'event': 80, 'policy': 1440, 'poll': 2880, 'journal': 0.5}
PEAK = {'logon': 1, 'lock': 10, 'touch': 120, 'event': 20, 'policy': 60, 'poll': 120, 'journal': 0}
HASHES = {'logon': 1, 'lock': 1}  # production argon2id hashes per call (log-on; unlock)
HASH_MS = 29.5                     # one production hash inside the server (docs/benchmarks.md)
OPEN_DAYS = 310                    # counter days a year (six days a week, less holidays)
RETENTION_YEARS = 7                # audit records kept
NAMES = {'logon': 'log-off + log-on', 'lock': 'lock + unlock', 'touch': 'touch', 'event': 'event 24/25',
         'policy': 'policy fetch', 'poll': 'poll (30 s)', 'journal': 'journal entry'}


def load(d, n):
    with open(os.path.join(d, n + '.json')) as f:
        return json.load(f)


def costs(d):
    """Per call: server ms, PG backend ms, PG own-process ms, commits,
    write xacts, WAL bytes, store bytes; and the node's baseline a second."""
    b = load(d, 'baseline')
    w = b['window_seconds']
    base = {'server': b['server_cpu_seconds'] / w, 'pg': b['pg']['backend_cpu_seconds'] / w,
            'aux': b['pg']['aux_cpu_seconds'] / w, 'commits': (b['pg']['commits'] + b['pg']['rollbacks']) / w,
            'wxact': b['pg']['own_write_xacts'] / w, 'wal': b['pg']['own_wal_bytes'] / w, 'store': 0}
    out = {}
    for kind in ('logon', 'lock', 'touch', 'policy', 'event', 'poll'):
        r = load(d, kind)
        ops = {o['op']: o for o in r['ops']}
        n = ops[kind]['count']
        w = r['window_seconds']
        p = r['pg']
        got = {'server': r['server_cpu_seconds'], 'pg': p['backend_cpu_seconds'], 'aux': p['aux_cpu_seconds'],
               'commits': p['commits'] + p['rollbacks'], 'wxact': p['own_write_xacts'], 'wal': p['own_wal_bytes'], 'store': p['store_bytes']}
        c = {k: (got[k] - base[k] * w) / n for k in got}
        if p.get('waldump_error'):
            # The WAL could not be read (see the fleet report); a call that
            # grew no table is taken to write none.
            c['wxact'] = c['wal'] = 0.0 if p['store_bytes'] == 0 else None
        c.update(count=n, rate=n / r['load_seconds'], errors=sum(o['errors'] for o in r['ops']),
                 p99=max(o['p99_ms'] for o in r['ops']), busy=r['machine']['busy_cores'], started=r['started_at'],
                 tables={k: v / n for k, v in p['table_bytes'].items()})
        out[kind] = c
    # A production poll (30 s) updates terminals.agent_seen_at once (at
    # most every 15 s); the measured window began less than 15 s after the
    # terminals were registered, so it saw none of those updates. Each poll
    # gets one of the size of a touch's (one row updated in place), its
    # write transaction, WAL and PostgreSQL CPU.
    if out['poll']['wxact'] is not None and out['poll']['wxact'] < 0.5:
        for k in ('wxact', 'wal', 'pg'):
            out['poll'][k] += out['touch'][k]
        out['poll']['adjusted'] = True
    if not os.path.exists(os.path.join(d, 'journal.after')):
        return base, out  # no journal run: the model leaves journal uploads out
    a = open(os.path.join(d, 'journal.before')).read().split()
    z = open(os.path.join(d, 'journal.after')).read().split()
    n = load(d, 'journal')['entries']
    w = float(z[7]) - float(a[7])
    dd = [float(z[i]) - float(a[i]) for i in range(7)]
    out['journal'] = {'server': (dd[6] / 100 - base['server'] * w) / n, 'pg': (dd[4] / 100 - base['pg'] * w) / n, 'aux': 0,
                      'commits': (dd[0] - base['commits'] * w) / n, 'wxact': None, 'wal': None, 'store': dd[3] / n,
                      'count': n, 'rate': None, 'errors': 0, 'p99': None, 'busy': None, 'started': None, 'tables': {}}
    return base, out


def print_costs(base, c):
    print('node baseline, a second: server %.2f ms, PG backends %.2f ms, commits %.1f, write xacts %.1f, WAL %.0f B' % (
        1000 * base['server'], 1000 * base['pg'], base['commits'], base['wxact'], base['wal']))
    print('| call | calls measured | calls/s | server CPU ms | PG CPU ms (backends + own) | PG transactions | write xacts | WAL B | storage B | p99 ms |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for k, v in c.items():
        f = lambda x, fmt: '–' if x is None else fmt % x
        print('| %s | %d | %s | %.3f | %.3f | %.2f | %s | %s | %.0f | %s |' % (
            NAMES[k] + (' *' if v.get('adjusted') else ''), v['count'], f(v['rate'], '%.0f'), 1000 * v['server'], 1000 * (v['pg'] + v['aux']), v['commits'],
            f(v['wxact'], '%.2f'), f(v['wal'], '%.0f'), v['store'], f(v['p99'], '%.0f')))


def load_of(c, rates, terminals, per_seconds):
    """What `terminals` doing `rates` calls each in `per_seconds` cost a
    second: server cores, PG cores, commits/s, write xacts/s, WAL B/s,
    storage B/s, calls/s. The hash is added to the server."""
    t = dict(server=0.0, pg=0.0, commits=0.0, wxact=0.0, wal=0.0, store=0.0, calls=0.0)
    for k, per in rates.items():
        if k not in c:
            continue
        x = per * terminals / per_seconds  # calls a second
        v = c[k]
        t['calls'] += x * (2 if k in ('logon', 'lock') else 1)
        t['server'] += x * (v['server'] + HASHES.get(k, 0) * HASH_MS / 1000)
        t['pg'] += x * (v['pg'] + v['aux'])
        t['commits'] += x * v['commits']
        t['wxact'] += x * (v['wxact'] if v['wxact'] is not None else v['commits'])
        t['wal'] += x * (v['wal'] if v['wal'] is not None else 0)
        t['store'] += x * v['store']
    return t


def model(c):
    print('| terminals | calls/s, day mean | calls/s, peak hour | node CPU cores, peak (hash) | PG CPU cores, peak | PG transactions/s, peak | write xacts/s, peak | WAL GB/day | storage GB/year | audit, 7 years, TB |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for n in (10_000, 100_000, 1_000_000):
        day = load_of(c, DAY, n, 86400)
        peak = load_of(c, PEAK, n, 3600)
        hash_cores = sum(PEAK[k] * n / 3600 * HASHES[k] * HASH_MS / 1000 for k in HASHES)
        year = day['store'] * 86400 * OPEN_DAYS / 1e9
        audit = audit_share(c) * year
        print('| %s | %.0f | %.0f | %.1f (%.1f) | %.2f | %.0f | %.0f | %.1f | %.0f | %.2f |' % (
            f'{n:,}', day['calls'], peak['calls'], peak['server'], hash_cores, peak['pg'], peak['commits'], peak['wxact'],
            day['wal'] * 86400 / 1e9, year, audit * RETENTION_YEARS / 1000))


def audit_share(c):
    """The audit table's part of a day's growth."""
    tot = aud = 0.0
    for k, per in DAY.items():
        if k not in c or k == 'journal':
            continue
        tot += per * c[k]['store']
        aud += per * c[k]['tables'].get('audit', 0)
    return aud / tot if tot else 0


def check(c, base, cd):
    r = load(cd, 'check')
    ops = {o['op']: o['count'] for o in r['ops']}
    w = r['window_seconds']
    counts = {'logon': ops.get('logon', 0), 'lock': ops.get('lock', 0), 'touch': ops.get('touch', 0),
              'policy': ops.get('policy', 0), 'event': ops.get('event', 0), 'poll': ops.get('poll', 0)}
    pred = {k: base[k] * w for k in ('server', 'pg', 'commits', 'wxact', 'wal')}
    pred['pg'] += base['aux'] * w
    for k, n in counts.items():
        for m in ('server', 'commits', 'wxact', 'wal'):
            pred[m] += n * c[k][m]
        pred['pg'] += n * (c[k]['pg'] + c[k]['aux'])
    p = r['pg']
    got = {'server': r['server_cpu_seconds'], 'pg': p['backend_cpu_seconds'] + p['aux_cpu_seconds'],
           'commits': p['commits'] + p['rollbacks'], 'wxact': p['own_write_xacts'], 'wal': p['own_wal_bytes']}
    print('check run: %d terminals, started %s, window %.1f s, calls %s, errors %d, machine busy %.2f cores' % (
        r['terminals'], r['started_at'], w, counts, sum(o['errors'] for o in r['ops']), r['machine']['busy_cores']))
    print('| measure | model | measured | error |')
    print('|---|---|---|---|')
    names = {'server': 'node CPU (cores)', 'pg': 'PostgreSQL CPU (cores)', 'commits': 'PG transactions/s',
             'wxact': 'write transactions/s', 'wal': 'WAL (kB/s)'}
    for k in ('server', 'pg', 'commits', 'wxact', 'wal'):
        s = 1000 if k == 'wal' else 1
        if p.get('waldump_error') and k in ('wxact', 'wal'):
            print('| %s | %.3f | (not read: %s) | – |' % (names[k], pred[k] / w / s, p['waldump_error']))
            continue
        print('| %s | %.3f | %.3f | %+.0f%% |' % (names[k], pred[k] / w / s, got[k] / w / s, 100 * (pred[k] - got[k]) / got[k]))


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base, c = costs(sys.argv[2])
    if sys.argv[1] == 'costs':
        print_costs(base, c)
    elif sys.argv[1] == 'model':
        model(c)
    elif sys.argv[1] == 'check' and len(sys.argv) == 4:
        check(c, base, sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
