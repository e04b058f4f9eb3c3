"""Reference losses of PyTorch's LBFGS (Debian python3-torch, PyTorch 1.13) for LbfgsStrongWolfeTests.

Run from the repository root:  /usr/bin/python3 tests/MLNetDeep.Tests/Fixtures/lbfgs_reference.py
Writes tests/MLNetDeep.Tests/Fixtures/lbfgs_reference.json, which the C# tests read (CI needs no Python).

Data: breast_cancer.csv beside this script (scikit-learn 1.2.1's copy of the UCI Wisconsin Diagnostic Breast Cancer
set, 569 rows x 30 features, target 0 = malignant, 1 = benign), each feature standardised (mean 0, population std 1).
Everything in float64. For every problem the JSON holds the loss after each outer LBFGS.step, the total number of
closure calls and iterations after it, and the final parameters.
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    rows = np.loadtxt(os.path.join(HERE, "breast_cancer.csv"), delimiter=",", skiprows=1)
    x, y = rows[:, :30], rows[:, 30]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


X, Y = load()


def logistic(params):
    w, b = params
    # Mean binary cross-entropy + 0.5 * 1e-2 * |w|^2 (strongly convex: a unique minimum even if the data were separable).
    return torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, Y) + 0.5e-2 * (w * w).sum()


def mlp(params):
    w1, b1, w2, b2 = params
    h = torch.tanh(X @ w1.T + b1)
    return torch.nn.functional.binary_cross_entropy_with_logits(h @ w2 + b2, Y)


def run(name, loss_fn, params, steps, **options):
    params = [torch.nn.Parameter(p.clone()) for p in params]
    initial = [p.detach().clone() for p in params]
    opt = torch.optim.LBFGS(params, **options)

    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    losses, evals, iters = [], [], []
    for _ in range(steps):
        opt.step(closure)
        with torch.no_grad():
            losses.append(float(loss_fn(params)))
        state = opt.state[params[0]]
        evals.append(int(state["func_evals"]))
        iters.append(int(state["n_iter"]))
    return {
        "name": name,
        "options": options,
        "initial": [p.reshape(-1).tolist() for p in initial],
        "shapes": [list(p.shape) for p in initial],
        "losses": losses,
        "evaluations": evals,
        "iterations": iters,
        "final": [p.detach().reshape(-1).tolist() for p in params],
    }


torch.manual_seed(0)
mlp_init = [torch.randn(8, 30, dtype=torch.float64) * 0.3, torch.zeros(8, dtype=torch.float64),
            torch.randn(8, dtype=torch.float64) * 0.3, torch.zeros(1, dtype=torch.float64)]
logistic_init = [torch.zeros(30, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]

problems = [
    run("logistic_strong_wolfe", logistic, logistic_init, 6,
        lr=1, max_iter=5, history_size=10, line_search_fn="strong_wolfe"),
    run("mlp_strong_wolfe", mlp, mlp_init, 10,
        lr=1, max_iter=8, history_size=10, line_search_fn="strong_wolfe"),
    run("mlp_strong_wolfe_max_eval", mlp, mlp_init, 6,
        lr=0.5, max_iter=20, max_eval=9, history_size=4, line_search_fn="strong_wolfe"),
    run("logistic_fixed_step", logistic, logistic_init, 8,
        lr=0.5, max_iter=4, history_size=5),
]
out = {"torch": torch.__version__, "problems": problems}
with open(os.path.join(HERE, "lbfgs_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
for p in problems:
    print(p["name"], ["%.6g" % l for l in p["losses"]], p["evaluations"], p["iterations"])
