#!/usr/bin/env python3
"""The training steps of benchmarks/throughput.cpp written in plain PyTorch, for a speed comparison
on the same machine and the same LibTorch build (Debian: python3-torch).

Same networks, batch, optimisers, penalties and weight averages as the C++ models' defaults, written
the way a PyTorch user would write them. Output: Google Benchmark's JSON layout (name, real_time in
ms per step), so both files can be read by one script.

    /usr/bin/python3 benchmarks/python/throughput.py --threads 2 > python.json
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

BATCH = 128


def mlp(inputs, outputs, width=512, depth=4, activation=lambda: nn.LeakyReLU(0.2)):
    layers, size = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), activation()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, outputs))


def init_normal(net, std=0.02):
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return net


class TimeMlp(nn.Module):
    """An MLP on [x, Fourier features of s]: frequencies ~ N(0, 16²), fixed."""

    def __init__(self, dim, out, embedding=128, scale=16.0):
        super().__init__()
        self.register_buffer("freqs", torch.randn(embedding // 2) * scale)
        self.net = mlp(dim + embedding, out)

    def forward(self, x, s):
        phase = s[:, None] * (2 * math.pi) * self.freqs[None]
        return self.net(torch.cat([x, phase.cos(), phase.sin()], 1))


class EdmDenoiser(nn.Module):
    """D(x, σ) = c_skip x + c_out F(c_in x, ln σ / 4)."""

    def __init__(self, dim, sigma_data=0.5):
        super().__init__()
        self.sigma_data = sigma_data
        self.net = TimeMlp(dim, dim)

    def forward(self, x, sigma):
        sd2, s = self.sigma_data ** 2, sigma[:, None]
        c_skip = sd2 / (s ** 2 + sd2)
        c_out = s * self.sigma_data / (s ** 2 + sd2).sqrt()
        c_in = 1 / (s ** 2 + sd2).sqrt()
        return c_skip * x + c_out * self.net(c_in * x, sigma.log() / 4)


class Average:
    """Exponential moving average of a network's parameters (decay 0.999)."""

    def __init__(self, net, decay=0.999):
        self.decay = decay
        self.params = [p.detach().clone() for p in net.parameters()]
        self.net = net

    @torch.no_grad()
    def update(self):
        for a, p in zip(self.params, self.net.parameters()):
            a.lerp_(p, 1 - self.decay)


def adam(net, lr, betas):
    return torch.optim.Adam(net.parameters(), lr=lr, betas=betas)


def ring_batch(n=BATCH, modes=5, radius=3.0, std=0.5):
    angle = torch.randint(modes, (n,)) * (2 * math.pi / modes)
    return radius * torch.stack([angle.cos(), angle.sin()], 1) + std * torch.randn(n, 2)


def ring_centres(modes=5, radius=3.0):
    angle = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angle.cos(), angle.sin()], 1)


def mixture_denoiser(centres, std):
    """The exact denoiser E[x0 | x0 + σε = x] of a mixture of N(c_k, std² I) with equal weights."""

    def denoise(x, sigma):
        var = std ** 2 + sigma[:, None] ** 2
        logits = -((x[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * var)
        weights = logits.softmax(1)
        posterior_means = (std ** 2 * x[:, None, :] + sigma[:, None, None] ** 2 * centres[None]) / var[:, :, None]
        return (weights[:, :, None] * posterior_means).sum(1)

    return denoise


def gan():
    """One discriminator step (non-saturating loss, R1 0.1 on real points) and one generator step."""
    g = init_normal(mlp(128, 2))
    d = init_normal(mlp(2, 1))
    g_opt, d_opt = adam(g, 2e-4, (0.5, 0.999)), adam(d, 2e-4, (0.5, 0.999))
    average = Average(g)

    def step():
        real = ring_batch().requires_grad_(True)
        with torch.no_grad():
            fake = g(torch.randn(BATCH, 128))
        real_logits = d(real)
        (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        loss = F.softplus(-real_logits).mean() + F.softplus(d(fake)).mean() + 0.1 * grad.square().sum(1).mean()
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
        g_loss = F.softplus(-d(g(torch.randn(BATCH, 128)))).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        average.update()

    return step


def edm():
    """One denoiser step on ln σ ~ N(−1.2, 1.2²) with EDM's loss weight, Adam 1e-3, average 0.999."""
    denoiser = EdmDenoiser(2)
    opt = adam(denoiser, 1e-3, (0.9, 0.999))
    average = Average(denoiser)

    def step():
        y = ring_batch()
        sigma = (torch.randn(BATCH) * 1.2 - 1.2).exp()
        weight = (sigma ** 2 + 0.25) / (sigma * 0.5) ** 2
        noised = y + sigma[:, None] * torch.randn_like(y)
        loss = (weight * (denoiser(noised, sigma) - y).square().sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        average.update()

    return step


def discriminator_flow(steps=56, eta=20.0):
    """Algorithm 3: particles from N(0, I) follow −η ∇ softplus(−f(x, t)) over N Euler steps; the
    discriminator then trains on data vs the particles, both at one random grid time per pair."""
    d = init_normal(TimeMlp(2, 1))
    opt = adam(d, 2e-4, (0.5, 0.999))
    average = Average(d)
    times = torch.linspace(0, 1, steps + 1)

    def velocity(x, t):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.softplus(-d(x, t)).sum(), x)
        return -eta * grad

    def step():
        x = torch.randn(BATCH, 2)
        states = []
        for i in range(steps):
            states.append(x)
            if i + 1 < steps:
                t = times[i].expand(BATCH)
                x = x + (times[i + 1] - times[i]) * velocity(x, t)
        index = torch.randint(steps, (BATCH,))
        fake = torch.stack(states)[index, torch.arange(BATCH)]
        t = times[index]
        loss = F.softplus(-d(ring_batch(), t)).mean() + F.softplus(d(fake, t)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        average.update()

    return step


def score_gan(score_steps=10):
    """One step of the generated-score denoiser D_φ on generator samples (σ from the schedule law on
    [0.1, 10], ρ = 3); every score_steps, a generator step along (D_data − D_φ)(x + σε, σ) / σ."""
    g = mlp(128, 2, activation=nn.ReLU)
    g_opt = adam(g, 2e-4, (0.9, 0.999))
    average = Average(g)
    phi = EdmDenoiser(2)
    phi_opt = adam(phi, 2e-4, (0.9, 0.999))
    data = mixture_denoiser(ring_centres(), 0.5)
    hi, lo = 10.0 ** (1 / 3), 0.1 ** (1 / 3)
    count = [0]

    def schedule_sigma():
        return (torch.rand(BATCH) * (lo - hi) + hi) ** 3

    def step():
        with torch.no_grad():
            fake = g(torch.randn(BATCH, 128))
        sigma = schedule_sigma()
        loss = (phi(fake + sigma[:, None] * torch.randn_like(fake), sigma) - fake).square().sum(1).mean()
        phi_opt.zero_grad()
        loss.backward()
        phi_opt.step()
        count[0] += 1
        if count[0] % score_steps == 0:
            x = g(torch.randn(BATCH, 128))
            sigma = schedule_sigma()
            with torch.no_grad():
                noised = x + sigma[:, None] * torch.randn_like(x)
                v = (data(noised, sigma) - phi(noised, sigma)) / sigma[:, None]
            g_opt.zero_grad()
            (-(x * v).sum(1).mean()).backward()
            g_opt.step()
            average.update()

    return step


def edm_sample_2000(steps=28, sigma_min=0.002, sigma_max=40.0, rho=7.0):
    """Heun on the Karras grid, 2,000 particles, with an untrained denoiser (speed only)."""
    denoiser = EdmDenoiser(2)
    i = torch.arange(steps, dtype=torch.float64)
    t = (sigma_max ** (1 / rho) + i / (steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    t = torch.cat([t, torch.zeros(1, dtype=torch.float64)]).tolist()

    @torch.no_grad()
    def run():
        x = torch.randn(2000, 2) * t[0]
        for k in range(steps):
            d = (x - denoiser(x, torch.full((2000,), t[k]))) / t[k]
            x_next = x + (t[k + 1] - t[k]) * d
            if t[k + 1] > 0:
                d2 = (x_next - denoiser(x_next, torch.full((2000,), t[k + 1]))) / t[k + 1]
                x_next = x + (t[k + 1] - t[k]) * (d + d2) / 2
            x = x_next

    return run


def measure(name, make, min_time):
    torch.manual_seed(1)
    step = make()
    for _ in range(3):
        step()
    iterations, start = 0, time.perf_counter()
    while True:
        step()
        iterations += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and iterations >= 5:
            break
    return {"name": name, "iterations": iterations, "real_time": 1e3 * elapsed / iterations, "time_unit": "ms"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per benchmark")
    parser.add_argument("--filter", default="", help="run benchmarks whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cases = [("BM_GanTrainStep", gan), ("BM_EdmTrainStep", edm),
             ("BM_DiscriminatorFlowTrainStep", discriminator_flow), ("BM_ScoreGanTrainStep", score_gan),
             ("BM_EdmSample2000", edm_sample_2000)]
    results = [measure(name, make, args.min_time) for name, make in cases if args.filter in name]
    context = {"library": "PyTorch " + torch.__version__, "threads": args.threads}
    print(json.dumps({"context": context, "benchmarks": results}, indent=2))


if __name__ == "__main__":
    main()
