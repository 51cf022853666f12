#!/usr/bin/env python3
"""Writes points of a fixed mixture of 8 Gaussians that no default of gpm was tuned on.

Centres placed irregularly (no symmetry, nearest neighbours 1.7 to 2.4 apart, 14 to 20 std), unequal weights, std 0.12:
a check that the models' defaults hold beyond the datasets they were measured on.
Usage: heldout_mixture.py N SEED POINTS.csv [CENTERS.csv]   (prints the components' std)
"""
import random
import sys

CENTERS = [(-2.6, 1.9), (-1.1, 2.6), (0.9, 1.7), (2.7, 2.2), (-2.2, -0.8), (0.2, -0.3), (2.4, -1.2), (-0.6, -2.5)]
WEIGHTS = [0.18, 0.08, 0.14, 0.10, 0.16, 0.12, 0.09, 0.13]
STD = 0.12


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    with open(out, "w") as f:
        f.write("x,y\n")
        for _ in range(n):
            cx, cy = rng.choices(CENTERS, weights=WEIGHTS)[0]
            f.write(f"{cx + STD * rng.gauss(0, 1):.6f},{cy + STD * rng.gauss(0, 1):.6f}\n")
    if len(sys.argv) == 5:
        with open(sys.argv[4], "w") as f:
            f.write("x,y\n")
            for cx, cy in CENTERS:
                f.write(f"{cx},{cy}\n")
    print(STD)


if __name__ == "__main__":
    main()
