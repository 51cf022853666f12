"""Prints the values that tests/unet_test.cpp's "the UNet computes what the reference's U-Net computes"
checks against: the GPM reference's own U-Net (gpm/networks/score/ddpm.py, SongUNetBase) on a small
architecture, with deterministic weights and inputs that the test rebuilds the same way.

Usage: python3 unet_reference_values.py PATH/TO/ddpm.py
(ddpm.py from the reference repository; its one import of the package, ScoreDict, is not needed.)
"""
import math
import sys
import types

import torch

source = open(sys.argv[1]).read().replace('from gpm.networks.utils import ScoreDict', 'ScoreDict = dict')
ddpm = types.ModuleType('ddpm')
exec(compile(source, 'ddpm.py', 'exec'), ddpm.__dict__)

torch.set_default_dtype(torch.float64)
net = ddpm.SongUNetBase(img_resolution=8, in_channels=2, out_channels=2, noise_channels=8, model_channels=4,
                        channel_mult=[1, 2, 2], channel_mult_emb=2, num_blocks=1, attn_resolutions=[4], dropout=0.1)
net.eval()

# Parameter i in name order, n values: sin(0.618 j + i) / sqrt(fan), fan = values per output row.
names = sorted(name for name, _ in net.named_parameters())
params = dict(net.named_parameters())
with torch.no_grad():
    for i, name in enumerate(names):
        p = params[name]
        fan = p.numel() // p.shape[0] if p.dim() >= 2 else 1
        j = torch.arange(p.numel(), dtype=torch.float64)
        p.copy_((torch.sin(0.618 * j + i) / math.sqrt(fan)).reshape(p.shape))

n, d = 2, 2 * 8 * 8
x = torch.sin(0.37 * torch.arange(n * d, dtype=torch.float64)).reshape(n, 2, 8, 8)
s = torch.tensor([-1.1, 0.4])
# The reference embeds the noise label outside the U-Net: positional, endpoint, max_positions 10000.
freqs = (1 / 10000) ** (torch.arange(4, dtype=torch.float64) / 3)
emb = torch.cat([torch.outer(s, freqs).cos(), torch.outer(s, freqs).sin()], dim=1)
with torch.no_grad():
    out = net(x, emb).reshape(n, d)

k = torch.arange(n * d, dtype=torch.float64).reshape(n, d)
print('parameters', sum(p.numel() for p in net.parameters()), len(names))
print('sum', repr(out.sum().item()))
print('sum of squares', repr(out.square().sum().item()))
print('cos-weighted sum', repr((out * torch.cos(k)).sum().item()))
print('out[0, :3]', [repr(v) for v in out[0, :3].tolist()])
print('out[1, -3:]', [repr(v) for v in out[1, -3:].tolist()])
