#!/usr/bin/python3
"""PyTorch reference timings for the non-convolution ops of the reference
autoencoder (and its BatchNorm/ELU variant): linear, batch_norm, activations,
losses. Prints ms per forward and per backward at batch 250, with
torch.set_num_threads(2) and (1). Compare with scripts/bench/nnops.lua (same
cases, same format; each figure the best of 5 blocks of reps / 5 calls).

  /usr/bin/python3 scripts/bench/nnops.py [reps]
"""
import sys
import time

import torch
import torch.nn.functional as F

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
BLOCKS = 5
N = 250


def leaf(*shape):
    return torch.randn(*shape, requires_grad=True)


def linear(i, o):
    x, w, b = leaf(N, i), leaf(o, i), leaf(o)
    return lambda: F.linear(x, w, b)


def batch_norm(shape, training):
    c = shape[1]
    x, w, b, rm, rv = leaf(*shape), leaf(c), leaf(c), torch.zeros(c), torch.ones(c)
    return lambda: F.batch_norm(x, rm, rv, w, b, training=training)


def unary(f):
    x = leaf(N, 16, 14, 14)
    return lambda: f(x)


def loss(f, prob=False):
    x = torch.rand(N, 1, 28, 28, requires_grad=True) if prob else leaf(N, 1, 28, 28)
    t = torch.rand(N, 1, 28, 28)
    return lambda: f(x, t)


def cross_entropy():
    x, t = leaf(N, 10), torch.randint(0, 10, (N,))
    return lambda: F.cross_entropy(x, t)


CASES = [
    ("linear 250x288 -> 64", lambda: linear(288, 64)),
    ("linear 250x64 -> 288", lambda: linear(64, 288)),
    ("linear 250x64 -> 8", lambda: linear(64, 8)),
    ("linear 250x8 -> 64", lambda: linear(8, 64)),
    ("batch_norm train 250x16x14x14", lambda: batch_norm((N, 16, 14, 14), True)),
    ("batch_norm eval 250x16x14x14", lambda: batch_norm((N, 16, 14, 14), False)),
    ("batch_norm train 250x8x14x14", lambda: batch_norm((N, 8, 14, 14), True)),
    ("batch_norm train 250x64", lambda: batch_norm((N, 64), True)),
    ("elu 250x16x14x14", lambda: unary(F.elu)),
    ("leaky_relu 250x16x14x14", lambda: unary(lambda x: F.leaky_relu(x, 0.01))),
    ("softplus 250x16x14x14", lambda: unary(F.softplus)),
    ("dropout 0.5 250x16x14x14", lambda: unary(lambda x: F.dropout(x, 0.5, True))),
    ("mse 250x1x28x28", lambda: loss(F.mse_loss)),
    ("bce 250x1x28x28", lambda: loss(lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"), prob=True)),
    ("bce_with_logits 250x1x28x28", lambda: loss(F.binary_cross_entropy_with_logits)),
    ("cross_entropy 250x10", cross_entropy),
]


def best_of(f):
    reps, best = max(1, REPS // BLOCKS), float("inf")
    for _ in range(BLOCKS):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def bench(make):
    torch.manual_seed(0)
    fwd = make()
    with torch.no_grad():
        g = torch.randn_like(fwd())
    for _ in range(5):
        fwd().backward(g)
    f = best_of(fwd)
    fb = best_of(lambda: fwd().backward(g))
    return 1e3 * f, 1e3 * (fb - f)


def main():
    for threads in (2, 1):
        torch.set_num_threads(threads)
        print(f"pytorch {torch.__version__}, {threads} thread(s), batch {N}, {REPS} reps")
        for name, make in CASES:
            f, b = bench(make)
            print(f"  {name:<30s} forward {f:8.4f} ms  backward {b:8.4f} ms")


if __name__ == "__main__":
    main()
