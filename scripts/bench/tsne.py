#!/usr/bin/python3
"""The scikit-learn side of the t-SNE benchmark (scripts/bench/tsne.sh).

  gen     writes the inputs both sides read: the 10,000 Fashion-MNIST test
          images (Debian's dataset-fashion-mnist), as pixels in [0, 1],
          through two fixed Gaussian random projections to 8 and 32
          dimensions (x8, x32), with their labels; a seeded mixture of ten
          Gaussians stands in when the data set is missing.
  sklearn runs scikit-learn's TSNE (Barnes-Hut, perplexity 30, 1000
          iterations, n_jobs=2, init 'pca', learning rate 'auto') on one input
          and writes the embedding; prints seconds and its KL divergence.
  judge   one referee for every embedding of an input: scikit-learn's
          trustworthiness (12 neighbours), the KL divergence of the embedding
          against scikit-learn's own sparse P (perplexity 30), computed
          exactly (all pairs for Q's normaliser), and 12-NN label accuracy.

Files are safetensors, written by hand (Debian 12 has no python3-safetensors).

  /usr/bin/python3 scripts/bench/tsne.py gen --out /tmp/tsne_bench.safetensors
  /usr/bin/python3 scripts/bench/tsne.py sklearn --data F --input x8 --out E
  /usr/bin/python3 scripts/bench/tsne.py judge --data F --input x8 EMB...
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
FASHION_LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        if h["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {h['dtype']}, expected F32")
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(h["shape"])
    return out


# ---------------------------------------------------------------- inputs

def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 0x00000803:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, rows * cols)
    return np.frombuffer(raw[8:], dtype=np.uint8)


def gen(a):
    rng = np.random.default_rng(20240501)
    if os.path.exists(FASHION):
        images = read_idx(FASHION).astype(np.float64) / 255.0
        labels = read_idx(FASHION_LABELS).astype(np.float64)
        source = "fashion-mnist t10k, random projections"
    else:
        centres = rng.normal(0, 3, (10, 784))
        labels = np.arange(10000) % 10
        images = centres[labels] + rng.normal(0, 1, (10000, 784))
        source = "mixture of 10 Gaussians in 784-D, random projections"
    out = {"labels": labels}
    for k in (8, 32):
        proj = rng.normal(0, 1 / np.sqrt(k), (images.shape[1], k))
        out[f"x{k}"] = images @ proj
    write_safetensors(a.out, out, {"source": source})
    print(f"wrote {a.out}: {source}, x8 and x32 of {images.shape[0]} points")


# ---------------------------------------------------------------- scikit-learn

def run_sklearn(a):
    from sklearn.manifold import TSNE
    x = read_safetensors(a.data)[a.input].astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    tsne = TSNE(n_components=2, perplexity=30.0, n_iter=1000, learning_rate="auto", init="pca",
                method="barnes_hut", angle=0.5, n_jobs=a.threads, random_state=0)
    y = tsne.fit_transform(x)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    write_safetensors(a.out, {"y": y})
    print(f"sklearn {a.input}: seconds {secs:.2f} cpu {cpu:.2f} kl {tsne.kl_divergence_:.4f}")


# ---------------------------------------------------------------- the referee

def exact_kl(P, y):
    """KL(P || Q) with Q the Student-t kernel normalised over all pairs."""
    y = y.astype(np.float64)
    n, z = y.shape[0], 0.0
    sq = (y * y).sum(1)
    for lo in range(0, n, 1000):
        d2 = sq[lo:lo + 1000, None] + sq[None, :] - 2 * y[lo:lo + 1000] @ y.T
        z += (1 / (1 + np.maximum(d2, 0))).sum() - min(1000, n - lo)  # drop the diagonal
    P = P.tocoo()
    d2 = ((y[P.row] - y[P.col]) ** 2).sum(1)
    q = 1 / (1 + d2) / z
    return float((P.data * np.log(np.maximum(P.data, 1e-300) / q)).sum())


def judge(a):
    from sklearn.manifold import trustworthiness
    from sklearn.manifold._t_sne import _joint_probabilities_nn
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
    data = read_safetensors(a.data)
    x, labels = data[a.input].astype(np.float32), data["labels"].astype(int)
    n = x.shape[0]
    k = min(n - 1, int(3 * 30 + 1))
    d = NearestNeighbors(n_neighbors=k).fit(x).kneighbors_graph(mode="distance")
    d.data **= 2
    P = _joint_probabilities_nn(d, 30, 0)
    for path in a.embeddings:
        y = read_safetensors(path)["y"]
        tw = trustworthiness(x, y, n_neighbors=12)
        half = n // 2  # 12-NN accuracy: fit on one half, score on the other
        acc = KNeighborsClassifier(12).fit(y[:half], labels[:half]).score(y[half:], labels[half:])
        print(f"judge {a.input} {os.path.basename(path)}: trustworthiness {tw:.4f} kl {exact_kl(P, y):.4f} "
              f"knn12 {acc:.4f}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--out", required=True)
    s = sub.add_parser("sklearn")
    s.add_argument("--data", required=True)
    s.add_argument("--input", default="x8")
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=2)
    j = sub.add_parser("judge")
    j.add_argument("--data", required=True)
    j.add_argument("--input", default="x8")
    j.add_argument("embeddings", nargs="+")
    a = p.parse_args()
    {"gen": gen, "sklearn": run_sklearn, "judge": judge}[a.cmd](a)


if __name__ == "__main__":
    main()
