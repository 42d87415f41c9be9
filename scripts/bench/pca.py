#!/usr/bin/python3
"""The scikit-learn side of the PCA and trustworthiness benchmark
(scripts/bench/pca.lua runs both sides and prints them together).

  gen      writes the inputs both sides read, as float32 safetensors:
           x784  the 60,000 Fashion-MNIST training images (Debian's
                 dataset-fashion-mnist) as pixels in [0, 1]; seeded data of the
                 same shape with a decaying spectrum when the set is missing;
           x32   the 10,000 test images through a fixed Gaussian projection
                 to 32 dimensions (seeded data when missing);
           e2    the 2-D PCA scores of x32: an embedding to judge.
  sklearn  times PCA(svd_solver="full") (once) and PCA(svd_solver="auto")
           (best of --repeat) on x784, float32 in as latent gets it, and
           sklearn.manifold.trustworthiness of e2 against x32 (once each);
           prints one JSON object per line.

  /usr/bin/python3 scripts/bench/pca.py gen --out /tmp/pca_bench.safetensors
  /usr/bin/python3 scripts/bench/pca.py sklearn --data /tmp/pca_bench.safetensors --k 50 [--repeat 3]
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"


# ==================== safetensors, by hand (no python3-safetensors in Debian 12)

def save(path, tensors):
    header, offset = {}, 0
    arrays = {k: np.ascontiguousarray(v, dtype="<f4") for k, v in sorted(tensors.items())}
    for name, a in arrays.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for a in arrays.values():
            f.write(a.tobytes())
    os.replace(path + ".tmp", path)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"])
    return out


# ==================== inputs

def idx_images(name):
    with gzip.open(os.path.join(FASHION, name)) as f:
        raw = f.read()
    _, count, rows, cols = struct.unpack(">IIII", raw[:16])
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, rows * cols).astype(np.float32) / 255


def gen(out):
    rng = np.random.RandomState(0)
    try:
        train, test = idx_images("train-images-idx3-ubyte.gz"), idx_images("t10k-images-idx3-ubyte.gz")
        source = "Fashion-MNIST"
    except OSError:
        basis = rng.randn(784, 784) * (np.arange(1, 785) ** -0.7)[:, None]
        train = (rng.randn(60000, 784) @ basis).astype(np.float32)
        test = (rng.randn(10000, 784) @ basis).astype(np.float32)
        source = "seeded data (Fashion-MNIST not found)"
    x32 = (test @ rng.randn(784, 32).astype(np.float32) / np.sqrt(784)).astype(np.float32)
    c = x32.astype(np.float64) - x32.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    e2 = (c @ vt[:2].T).astype(np.float32)
    save(out, {"x784": train, "x32": x32, "e2": e2})
    print(json.dumps({"what": "gen", "source": source, "out": out}))


# ==================== scikit-learn

def timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


def run_sklearn(data, k, repeat):
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness
    import sklearn

    d = load(data)
    x = np.array(d["x784"])  # writable float32
    for solver, reps in (("full", 1), ("auto", repeat)):  # the full SVD is slow: once
        p, s = None, float("inf")
        for _ in range(reps):  # the best of reps: the machine may be shared
            p, t = timed(lambda: PCA(n_components=k, svd_solver=solver, random_state=0).fit(x))
            s = min(s, t)
        print(json.dumps({"what": "pca_" + solver, "solver": p._fit_svd_solver, "k": k, "seconds": s,
                          "explained_variance": p.explained_variance_.tolist(),
                          "sklearn": sklearn.__version__}), flush=True)
    x32, e2 = d["x32"].astype(np.float64), d["e2"].astype(np.float64)
    for nk in (5, 12):
        t, s = timed(lambda: trustworthiness(x32, e2, n_neighbors=nk))
        print(json.dumps({"what": "trust", "k": nk, "seconds": s, "value": t}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["gen", "sklearn"])
    ap.add_argument("--out")
    ap.add_argument("--data")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if a.command == "gen":
        gen(a.out)
    else:
        run_sklearn(a.data, a.k, a.repeat)


main()
