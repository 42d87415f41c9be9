#!/usr/bin/env python3
"""PyTorch counterpart of scripts/bench/ae_train.lua: trains the reference
convolutional autoencoder for a fixed number of steps and prints samples/s
and peak resident memory, in the same format.

  /usr/bin/python3 scripts/bench/ae_train.py --threads 2 --steps 200
"""
import argparse
import resource
import time

import os
import sys

import torch
import torch.nn as nn

# The reference autoencoder, defined once for the benchmark and the comparisons.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compare"))
from ae_test_loss import reference as reference_autoencoder  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--images", type=int, default=60000)
    p.add_argument("--code", type=int, default=8)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    # Images stay uint8, as latent keeps them; each batch becomes float in [0, 1].
    images = torch.randint(0, 256, (a.images, 1, 28, 28), dtype=torch.uint8)
    encoder, decoder = reference_autoencoder(a.code)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.MSELoss()

    order = torch.randperm(a.images)
    def step(i):
        start = (i * a.batch) % (a.images - a.batch + 1)
        x = images[order[start:start + a.batch]].float() / 255
        loss = loss_fn(decoder(encoder(x)), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(a.warmup + i)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__} threads={a.threads} batch={a.batch} steps={a.steps} "
          f"samples/s={a.steps * a.batch / seconds:.0f} peak_rss_mb={peak_mb:.0f} loss={loss:.5f}")


if __name__ == "__main__":
    main()
