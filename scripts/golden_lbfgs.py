"""Golden iterates of torch.optim.LBFGS for tests/optim_lbfgs.rs.

Every point at which LBFGS evaluates the objective is recorded, in order, with
the loss there: comparing the whole sequence checks directions, step lengths,
history handling and the line search, not just the end point. float64 throughout.
Run: .venv/bin/python scripts/golden_lbfgs.py tests/golden/lbfgs.json
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


# A fixed symmetric positive definite matrix and vector: f = ½xᵀAx − bᵀx.
A = torch.tensor([
    [4.0, 1.0, 0.5, 0.0, 0.2],
    [1.0, 3.0, 0.3, 0.1, 0.0],
    [0.5, 0.3, 2.0, 0.4, 0.1],
    [0.0, 0.1, 0.4, 1.5, 0.3],
    [0.2, 0.0, 0.1, 0.3, 5.0],
])
B = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0])


def quadratic(x):
    return 0.5 * x @ A @ x - B @ x


CASES = [
    # name, function, start, LBFGS options, number of step() calls
    ("rosenbrock_plain", rosenbrock, [-1.5, 2.0], dict(lr=0.1, max_iter=40, history_size=5), 1),
    ("rosenbrock_wolfe", rosenbrock, [-1.5, 2.0], dict(max_iter=60, history_size=10, line_search_fn="strong_wolfe"), 1),
    ("quadratic_plain", quadratic, [0.0, 0.0, 0.0, 0.0, 0.0], dict(lr=1.0, max_iter=8, history_size=3), 2),
    ("quadratic_wolfe", quadratic, [1.0, 1.0, 1.0, 1.0, 1.0], dict(max_iter=20, history_size=3, line_search_fn="strong_wolfe"), 1),
]


def run(name, fn, start, opts, calls):
    x = torch.tensor(start, requires_grad=True)
    opt = torch.optim.LBFGS([x], **opts)
    points = []

    def closure():
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        points.append({"x": x.detach().tolist(), "loss": loss.item()})
        return loss

    for _ in range(calls):
        opt.step(closure)
    return {
        "name": name,
        "start": start,
        "options": {k: v for k, v in opts.items()},
        "calls": calls,
        "evaluations": points,
        "final": x.detach().tolist(),
    }


def main():
    out = {
        "generator": "scripts/golden_lbfgs.py",
        "torch": torch.__version__,
        "cases": [run(*c) for c in CASES],
    }
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
