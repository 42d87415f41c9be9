#!/usr/bin/env python3
"""PyTorch counterpart of scripts/compare/ae_test_loss.lua: trains the
reference convolutional autoencoder (or its BatchNorm/ELU variant) on an IDX
data set for a fixed number of epochs and prints the test MSE, one JSON line
per seed, in the same format as the Lua side.

  /usr/bin/python3 scripts/compare/ae_test_loss.py --data data/mnist10k --model bn_elu --seeds 3
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, path
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{folder}: no {stem}[.gz]")


def load(folder, split):
    images = read_idx(find(folder, f"{split}-images-idx3-ubyte"))
    return torch.from_numpy(images.copy()).unsqueeze(1)  # N x 1 x 28 x 28 uint8


def reference(code):
    encoder = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=0), nn.ReLU(),
        nn.Flatten(), nn.Linear(288, 64), nn.ReLU(), nn.Linear(64, code))
    decoder = nn.Sequential(
        nn.Linear(code, 64), nn.ReLU(), nn.Linear(64, 288), nn.ReLU(), nn.Unflatten(1, (32, 3, 3)),
        nn.ConvTranspose2d(32, 16, 3, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return encoder, decoder


def bn_elu(code):
    encoder = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ELU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ELU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=0), nn.BatchNorm2d(32), nn.ELU(),
        nn.Flatten(), nn.Linear(288, 64), nn.BatchNorm1d(64), nn.ELU(), nn.Linear(64, code))
    decoder = nn.Sequential(
        nn.Linear(code, 64), nn.BatchNorm1d(64), nn.ELU(),
        nn.Linear(64, 288), nn.BatchNorm1d(288), nn.ELU(), nn.Unflatten(1, (32, 3, 3)),
        nn.ConvTranspose2d(32, 16, 3, stride=2), nn.BatchNorm2d(16), nn.ELU(),
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1), nn.BatchNorm2d(8), nn.ELU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return encoder, decoder


def test_loss(model, images):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), 500):
            x = images[start:start + 500].float() / 255
            total += nn.functional.mse_loss(model(x), x, reduction="sum").item()
    model.train()
    return total / images.numel()


def run(a, seed, train, test):
    torch.manual_seed(seed)
    encoder, decoder = {"reference": reference, "bn_elu": bn_elu}[a.model](a.code)
    model = nn.Sequential(encoder, decoder)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        order = torch.randperm(len(train))
        for start in range(0, len(train) - a.batch + 1, a.batch):  # drop_last
            x = train[order[start:start + a.batch]].float() / 255
            loss = nn.functional.mse_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    return {"framework": "pytorch", "model": a.model, "seed": seed, "epochs": a.epochs,
            "test_mse": test_loss(model, test), "train_seconds": round(seconds, 2)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist10k")
    p.add_argument("--model", default="reference", choices=["reference", "bn_elu"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--code", type=int, default=8)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    train, test = load(a.data, "train"), load(a.data, "t10k")
    for seed in range(1, a.seeds + 1):
        print(json.dumps(run(a, seed, train, test)), flush=True)


if __name__ == "__main__":
    main()
