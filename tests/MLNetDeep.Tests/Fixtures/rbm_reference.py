"""Reference numbers for RbmTests, from scikit-learn 1.2.1 (Debian python3-sklearn) and NumPy.

Run from the repository root:  /usr/bin/python3 tests/MLNetDeep.Tests/Fixtures/rbm_reference.py
Writes tests/MLNetDeep.Tests/Fixtures/rbm_reference.json, which the C# tests read (CI needs no Python).

1. "exact": a BernoulliRBM (16 hidden units) fitted on scikit-learn's digits (8x8, /16, binarised at 0.5); its weights,
   20 rows, the unit score_samples flips in each row and the pseudo-log-likelihoods it returns; the free energies.
2. "update": two mean-field CD-2 updates (no sampling, so deterministic) with momentum 0.5, weight decay 0.01 and
   learning rate 0.1 from those weights on those 20 rows, written here in NumPy from Hinton's practical guide:
       p0 = s(v0 W^T + c);  h = p0;  2 x { v = s(h W + b); p = s(v W^T + c); h = p }
       dW = p0^T v0 / B - p^T v / B - wd * W;   dc = mean(p0 - p);   db = mean(v0 - v)
       V <- m V + lr * d;  theta <- theta + V      (velocities start at 0)
3. "peer": scikit-learn's BernoulliRBM (persistent CD-1, no momentum, no weight decay, sampled visible units) on the
   first 2,000 Fashion-MNIST training images (pixels / 255 binarised at 0.5), 64 hidden units, learning rate 0.05,
   batch 20, 10 epochs, seeds 0..4: the mean pseudo-log-likelihood on the 2,000 rows after every epoch (as fit's
   verbose output computes it).
"""
import gzip
import json
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM
from sklearn.utils import gen_even_slices

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# 1. exact pseudo-log-likelihood and free energy
digits = (load_digits().data / 16 > 0.5).astype(np.float64)
rbm = BernoulliRBM(n_components=16, learning_rate=0.05, batch_size=10, n_iter=5, random_state=7).fit(digits)
rows = digits[:20]
flips = np.random.RandomState(7).randint(0, rows.shape[1], rows.shape[0])  # what score_samples draws for random_state=7
exact = {
    "weight": rbm.components_.tolist(),
    "hidden_bias": rbm.intercept_hidden_.tolist(),
    "visible_bias": rbm.intercept_visible_.tolist(),
    "rows": rows.tolist(),
    "flips": flips.tolist(),
    "pseudo_log_likelihood": rbm.score_samples(rows).tolist(),
    "free_energy": rbm._free_energy(rows).tolist(),
}

# 2. two deterministic CD-2 updates with momentum and weight decay
W, c, b = rbm.components_.copy(), rbm.intercept_hidden_.copy(), rbm.intercept_visible_.copy()
vW, vc, vb = np.zeros_like(W), np.zeros_like(c), np.zeros_like(b)
lr, momentum, decay = 0.1, 0.5, 0.01
for _ in range(2):
    v0 = rows
    p0 = sigmoid(v0 @ W.T + c)
    h = p0
    for _ in range(2):
        v = sigmoid(h @ W + b)
        p = sigmoid(v @ W.T + c)
        h = p
    dW = p0.T @ v0 / len(v0) - p.T @ v / len(v) - decay * W
    dc = p0.mean(0) - p.mean(0)
    db = v0.mean(0) - v.mean(0)
    vW, vc, vb = momentum * vW + lr * dW, momentum * vc + lr * dc, momentum * vb + lr * db
    W, c, b = W + vW, c + vc, b + vb
update = {"learning_rate": lr, "momentum": momentum, "weight_decay": decay, "gibbs_steps": 2, "updates": 2,
          "weight": W.tolist(), "hidden_bias": c.tolist(), "visible_bias": b.tolist()}

# 3. the peer run on Fashion-MNIST
with gzip.open(FASHION) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:2000]
X = (images / 255.0 > 0.5).astype(np.float64)
settings = {"rows": 2000, "binarise_at": 0.5, "n_components": 64, "learning_rate": 0.05, "batch_size": 20, "n_iter": 10}
curves = []
for seed in range(5):
    model = BernoulliRBM(n_components=64, learning_rate=0.05, batch_size=20, n_iter=10, random_state=seed)
    # fit()'s own loop, with the per-epoch score it prints when verbose
    slices = list(gen_even_slices(int(np.ceil(len(X) / 20)) * 20, int(np.ceil(len(X) / 20)), n_samples=len(X)))
    curve = []
    for epoch in range(10):
        for s in slices:
            model.partial_fit(X[s])
        curve.append(float(model.score_samples(X).mean()))
    curves.append(curve)
    print("seed", seed, ["%.2f" % v for v in curve])
peer = {"settings": settings, "pseudo_log_likelihood": curves}

with open(os.path.join(HERE, "rbm_reference.json"), "w") as f:
    json.dump({"sklearn": __import__("sklearn").__version__, "exact": exact, "update": update, "peer": peer}, f)
