#!/usr/bin/python3
"""PyTorch reference timings for the conv layers of the reference autoencoder.

Prints ms per forward and per backward (input, weight and bias gradients)
for each layer shape at batch 250, with torch.set_num_threads(2) and (1).
Compare with scripts/bench/conv_layers.lua (same shapes, same format, same
method: forward timed over `reps` calls, backward as the difference to
`reps` forward+backward calls, each the best of `rounds` rounds).

  /usr/bin/python3 scripts/bench/conv_layers.py [reps [rounds]]
"""
import sys
import time

import torch
import torch.nn.functional as F

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N = 250
# (name, transposed, cin, cout, H, stride, padding, output_padding)
SHAPES = [
    ("conv 1->8 s2 p1 28x28", False, 1, 8, 28, 2, 1, 0),
    ("conv 8->16 s2 p1 14x14", False, 8, 16, 14, 2, 1, 0),
    ("conv 16->32 s2 p0 7x7", False, 16, 32, 7, 2, 0, 0),
    ("convT 32->16 s2 p0 3x3", True, 32, 16, 3, 2, 0, 0),
    ("convT 16->8 s2 p1 op1 7x7", True, 16, 8, 7, 2, 1, 1),
    ("convT 8->1 s2 p1 op1 14x14", True, 8, 1, 14, 2, 1, 1),
]


def bench(shape):
    name, tr, cin, cout, h, s, p, op = shape
    torch.manual_seed(0)
    x = torch.randn(N, cin, h, h, requires_grad=True)
    w = torch.randn(*((cin, cout) if tr else (cout, cin)), 3, 3, requires_grad=True)
    b = torch.randn(cout, requires_grad=True)

    def fwd():
        if tr:
            return F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op)
        return F.conv2d(x, w, b, stride=s, padding=p)

    with torch.no_grad():
        y = fwd()
    g = torch.randn_like(y)
    for _ in range(3):
        fwd().backward(g)
    f = fb = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(REPS):
            fwd()
        t1 = time.perf_counter()
        for _ in range(REPS):
            fwd().backward(g)
        t2 = time.perf_counter()
        f, fb = min(f, (t1 - t0) / REPS), min(fb, (t2 - t1) / REPS)
    return 1e3 * f, 1e3 * (fb - f)


def main():
    for threads in (2, 1):
        torch.set_num_threads(threads)
        print(f"pytorch {torch.__version__}, {threads} thread(s), batch {N}, best of {ROUNDS} x {REPS} reps")
        tot_f = tot_b = 0.0
        for shape in SHAPES:
            f, b = bench(shape)
            tot_f += f
            tot_b += b
            print(f"  {shape[0]:<28s} forward {f:8.3f} ms  backward {b:8.3f} ms")
        print(f"  {'total':<28s} forward {tot_f:8.3f} ms  backward {tot_b:8.3f} ms")


if __name__ == "__main__":
    main()
