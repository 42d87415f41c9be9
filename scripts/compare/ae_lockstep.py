#!/usr/bin/env python3
"""Lockstep comparison, PyTorch side: builds the reference autoencoder or its
BatchNorm/ELU variant, writes its initial weights to a safetensors file (under
latent's 1-based names), trains it on the data set's first batches in order,
and prints the loss of every 20th step and the test MSE in eval mode.
scripts/compare/ae_lockstep.lua does the same from those weights; with the
same start and the same batches the two runs must agree to float precision.

  /usr/bin/python3 scripts/compare/ae_lockstep.py --model bn_elu --weights /tmp/w.safetensors
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ae_test_loss import bn_elu, load, reference  # noqa: E402


def latent_name(name):
    """encoder 0, layer 3 -> "1.4.weight": latent's Sequential counts from 1."""
    return ".".join(str(int(p) + 1) if p.isdigit() else p for p in name.split("."))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist10k")
    p.add_argument("--model", default="reference", choices=["reference", "bn_elu"])
    p.add_argument("--steps", type=int, default=320)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--weights", required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    encoder, decoder = {"reference": reference, "bn_elu": bn_elu}[a.model](8)
    model = nn.Sequential(encoder, decoder)
    write_safetensors(a.weights, {latent_name(k): v for k, v in model.state_dict().items()
                                  if v.dtype == torch.float32})
    train, test = load(a.data, "train"), load(a.data, "t10k")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    for step in range(1, a.steps + 1):
        start = ((step - 1) * a.batch) % (len(train) - a.batch + 1)
        x = train[start:start + a.batch].float() / 255
        loss = nn.functional.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0 or step == 1:
            print(f"step {step} loss {loss.item():.7f}")
    model.eval()
    with torch.no_grad():
        x = test.float() / 255
        print(f"test_mse {nn.functional.mse_loss(model(x), x).item():.7f}")


if __name__ == "__main__":
    main()
