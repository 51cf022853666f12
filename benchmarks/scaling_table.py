#!/usr/bin/python3
"""The tables of benchmarks/scaling.sh: reads OUT_DIR/SERIES.X.json (gpm bench, one per point) and
writes, between the "scaling" markers of the page given (docs/performance.md), one table for the
series in batch and in steps (seconds per call fitted by a line, fixed + slope × x) and one for the
series in width (time against FLOPs, which grow as the width squared).

Usage: scaling_table.py OUT_DIR PAGE THREADS
"""
import datetime
import glob
import json
import os
import platform
import sys

BEGIN, END = '<!-- scaling.sh: begin -->', '<!-- scaling.sh: end -->'
SERIES = {  # name: (words, what x is, its unit in the slope)
    'gan_train_batch': ('GAN 2-D train step', 'batch', 'sample'),
    'edm_train_batch': ('EDM 2-D train step', 'batch', 'sample'),
    'discr_flow_train_batch': ('Discriminator Flow 2-D train step (56 steps)', 'batch', 'sample'),
    'discr_flow_train_steps': ('Discriminator Flow 2-D train step, batch 128', 'integration steps', 'step'),
    'edm_sample_batch': ('EDM Heun-28 sampling', 'batch', 'sample'),
    'edm_sample_steps': ('EDM Heun sampling, batch 1024', 'integration steps', 'step'),
    'discr_flow_sample_steps': ('Discriminator Flow sampling, batch 1024', 'integration steps', 'step'),
    'gan_train_width': ('GAN 2-D train step, batch 128', 'width', None),
    'edm_train_width': ('EDM 2-D train step, batch 128', 'width', None),
    'discr_flow_train_width': ('Discriminator Flow 2-D train step, batch 128', 'width', None),
}


def load(out_dir):
    points = {}
    for path in glob.glob(os.path.join(out_dir, '*.json')):
        parts = os.path.basename(path).split('.')
        if len(parts) != 3 or parts[0] not in SERIES:
            continue  # the configs written beside the results
        with open(path) as f:
            points.setdefault(parts[0], {})[int(parts[1])] = json.load(f)
    return points


def fit(xs, ts):
    """Least-squares line t = a + b x; returns a, b and the largest relative deviation from it."""
    n = len(xs)
    mx, mt = sum(xs) / n, sum(ts) / n
    b = sum((x - mx) * (t - mt) for x, t in zip(xs, ts)) / sum((x - mx) ** 2 for x in xs)
    a = mt - b * mx
    return a, b, max(abs(t - (a + b * x)) / t for x, t in zip(xs, ts))


def gflops(runs, xs):
    return ' / '.join(f"{runs[x]['achieved_gflops']:.0f}" for x in xs)


def per_unit(seconds):
    return f'{seconds * 1e6:.3g} µs' if seconds < 1e-3 else f'{seconds * 1e3:.3g} ms'


def ms(seconds):
    value = seconds * 1e3
    return f'{value:.3g}' if value < 100 else f'{value:.0f}'


def table(points):
    foreign = [w.get('foreign_cores', 0) for runs in points.values() for r in runs.values() for w in r['windows']]
    lines = []
    lines.append('| series | x | ms per call | fixed + slope | largest deviation from the line | GFLOP/s |')
    lines.append('| --- | --- | ---: | --- | ---: | ---: |')
    for name, (words, x_name, unit) in SERIES.items():
        if unit is None or name not in points:
            continue
        runs = points[name]
        xs = sorted(runs)
        ts = [call_seconds(runs[x]) for x in xs]
        a, b, deviation = fit(xs, ts)
        lines.append(f'| {words} | {x_name} {" / ".join(map(str, xs))} | {" / ".join(ms(t) for t in ts)} '
                     f'| {ms(a)} ms + {per_unit(b)} per {unit} | {deviation * 100:.0f} % '
                     f'| {gflops(runs, xs)} |')
    lines.append('')
    lines.append('| series | width | ms per call | time ratio | FLOP ratio | GFLOP/s |')
    lines.append('| --- | --- | ---: | ---: | ---: | ---: |')
    for name, (words, x_name, unit) in SERIES.items():
        if unit is not None or name not in points:
            continue
        runs = points[name]
        xs = sorted(runs)
        ts = [call_seconds(runs[x]) for x in xs]
        flops = [runs[x]['flops_per_call'] for x in xs]
        lines.append(f'| {words} | {" / ".join(map(str, xs))} | {" / ".join(ms(t) for t in ts)} '
                     f'| {ts[-1] / ts[0]:.2f} | {flops[-1] / flops[0]:.2f} '
                     f'| {gflops(runs, xs)} |')
    return lines, max(foreign, default=0)


def call_seconds(result):
    """Seconds of one call: a training step, or one sampler call of the whole batch."""
    if result['unit'] == 'steps/s':
        return 1.0 / result['median']
    return result['batch'] / result['median']


def main():
    out_dir, page, threads = sys.argv[1], sys.argv[2], sys.argv[3]
    points = load(out_dir)
    if not points:
        sys.exit(f'scaling_table.py: no results in {out_dir}')
    rows, foreign = table(points)
    cpu = 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    header = (f'Measured {datetime.date.today()} by `benchmarks/scaling.sh` on {cpu} ({platform.machine()}), '
              f'{threads} threads, `gpm bench --preset reference` at each point (medians of 3 windows); '
              f'other processes took at most {foreign:.2f} cores during a window.')
    with open(page) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f'scaling_table.py: {page} has no "{BEGIN}" … "{END}" markers to write between')
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(page, 'w') as f:
        f.write(head + BEGIN + '\n' + header + '\n\n' + '\n'.join(rows) + '\n' + END + tail)
    print('\n'.join([header, ''] + rows))


if __name__ == '__main__':
    main()
