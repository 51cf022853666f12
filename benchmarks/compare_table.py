#!/usr/bin/python3
"""The side-by-side table of benchmarks/compare.sh: reads OUT_DIR/ref/*.json (bench-ref) and
OUT_DIR/gpm/*.json (gpm bench), one pair per workload and alternation, and writes the table between
the "compare" markers of the page given (docs/performance.md).

Usage: compare_table.py OUT_DIR PAGE GPM_BINARY THREADS
"""
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys

BEGIN, END = '<!-- compare.sh: begin -->', '<!-- compare.sh: end -->'
ORDER = [
    'gan_gaussians_train', 'edm_gaussians_train', 'discr_flow_gaussians_train', 'score_gan_gaussians_train',
    'edm_gaussians_sample_b128', 'edm_gaussians_sample_b1024',
    'discr_flow_gaussians_sample_b128', 'discr_flow_gaussians_sample_b1024',
    'gan_mnist_train', 'edm_mnist_train', 'discr_flow_mnist_train', 'score_gan_mnist_train',
]
WORDS = {
    'gan_gaussians_train': 'GAN 2-D train step', 'edm_gaussians_train': 'EDM 2-D train step',
    'discr_flow_gaussians_train': 'Discriminator Flow 2-D train step',
    'score_gan_gaussians_train': 'Score GAN 2-D train step',
    'edm_gaussians_sample_b128': 'EDM Heun-28 sampling, batch 128',
    'edm_gaussians_sample_b1024': 'EDM Heun-28 sampling, batch 1024',
    'discr_flow_gaussians_sample_b128': 'Discriminator Flow 56-step sampling, batch 128',
    'discr_flow_gaussians_sample_b1024': 'Discriminator Flow 56-step sampling, batch 1024',
    'gan_mnist_train': 'MNIST GAN train step', 'edm_mnist_train': 'MNIST EDM train step',
    'discr_flow_mnist_train': 'MNIST Discriminator Flow train step',
    'score_gan_mnist_train': 'MNIST Score GAN train step',
}


def load(pattern):
    runs = {}
    for path in sorted(glob.glob(pattern)):
        name = os.path.basename(path).split('.r')[0]
        with open(path) as f:
            runs.setdefault(name, []).append(json.load(f))
    return runs


def ref_rate(r):
    return (r['steps_per_s_stats'] if r['mode'] == 'train' else r['samples_per_s_stats'])['median']


def fmt(v):
    return f'{v:,.0f}' if v >= 100 else f'{v:.1f}' if v >= 10 else f'{v:.2f}' if v >= 1 else f'{v:.3g}'


def cpu_name():
    try:
        for line in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines():
            if line.startswith('Model name:'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown CPU'


def main(out_dir, page, gpm, threads):
    ref, ours = load(os.path.join(out_dir, 'ref', '*.json')), load(os.path.join(out_dir, 'gpm', '*.json'))
    names = [n for n in ORDER if n in ref and n in ours]
    if not names:
        sys.exit(f'no workload has results on both sides in {out_dir}')
    rows = ['| workload | unit | reference | gpm | gpm / reference | gpm GFLOP/s | share of the same ops alone '
            '| other processes (cores, max) |',
            '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for n in names:
        r = statistics.median(ref_rate(x) for x in ref[n])
        g = statistics.median(x['median'] for x in ours[n])
        foreign = max([max(x.get('foreign_cores', [0.0])) for x in ref[n]] +
                      [max((w['foreign_cores'] or 0.0) for w in x['windows']) for x in ours[n]])
        gflops = statistics.median(x['achieved_gflops'] for x in ours[n])
        share = statistics.median(x['share_of_same_ops_alone'] for x in ours[n])
        rows.append(f"| {WORDS[n]} | {ours[n][0]['unit']} | {fmt(r)} | {fmt(g)} | **{g / r:.2f}×** | {gflops:.1f} | "
                    f'{100 * share:.0f} % | {foreign:.2f} |')
    env = ref[names[0]][0]['env']
    libs = [os.path.basename(lib) for lib in env.get('loaded_math_libs', []) if 'blas' in lib]
    probes_ref = [p for n in names for x in ref[n] for p in x.get('probe_gflops', [])]
    probes_gpm = [x['gemm_probe_gflops'] for n in names for x in ours[n]]
    reps = max(len(v) for v in ours.values())
    onednn = (", gpm's MLP layers multiplying through oneDNN's sgemm (which LibTorch links) instead of that BLAS"
              if any(x.get('onednn_matmul') for n in names for x in ours[n]) else '')
    mixed = any(x.get('precision') == 'bfloat16' for n in names for x in ours[n])
    precision = ' --precision bfloat16' if mixed else ''
    not_identical = (', in bfloat16 mixed precision (not identical work: the reference computes in float32; '
                     'docs/performance.md#mixed-precision)' if mixed else '')
    text = '\n'.join([
        BEGIN,
        f'Measured {datetime.date.today().isoformat()} by `benchmarks/compare.sh` on {cpu_name()}, '
        f'{threads} threads on each side, both on {", ".join(libs) or "the same BLAS"} (OpenMP)'
        f'{onednn}; the reference is White-Link/gpm at 3be2653 on Python {env.get("python")} / PyTorch '
        f'{env.get("torch")}, gpm is `{os.path.basename(gpm)} bench --preset reference{precision}` on LibTorch of the '
        f'same version{not_identical}. Medians of 3 timed windows per side, {reps} alternation(s) per workload; a 256×512×512 GEMM '
        f'probe gave {min(probes_ref + probes_gpm):.0f}–{max(probes_ref + probes_gpm):.0f} GFLOP/s during the run.',
        '',
        *rows,
        END,
    ])
    doc = open(page).read() if os.path.exists(page) else ''
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc += ('\n' if doc else '') + text + '\n'
    with open(page, 'w') as f:
        f.write(doc)
    print(text)


if __name__ == '__main__':
    main(*sys.argv[1:5])
