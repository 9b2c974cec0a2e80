"""The model shapes: plain nn.Sequential of Linear/ReLU so exact SHAP (DeepLIFT rules for
ReLU MLPs, linear SHAP for the logistic model) and the HE scorer apply without tricks."""

from __future__ import annotations

import torch
from torch import nn

ARCHS = ("mlp", "logistic")


def model_build(
    *, arch: str, n_in: int, n_out: int, hidden: int = 64, seed: int = 0
) -> nn.Sequential:
    """A recommender (n_out = candidate classes, softmax scores) or risk model (n_out = risks,
    independent sigmoids). `logistic` is one Linear layer: what the encrypted cross-site
    scoring can evaluate."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {ARCHS}")
    g = torch.Generator().manual_seed(seed)
    if arch == "logistic":
        model = nn.Sequential(nn.Linear(n_in, n_out))
    else:
        model = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_out),
        )
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features**0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return model


def model_layers_json(model: nn.Sequential) -> list[dict[str, object]]:
    """Weights as JSON (rounded to 6 significant digits): safe to load (no pickle) and
    byte-stable, so the artifact's sha256 depends only on the numbers."""
    out: list[dict[str, object]] = []
    for m in model:
        if isinstance(m, nn.Linear):
            out.append(
                {
                    "type": "linear",
                    "weight": [
                        [float(f"{v:.6g}") for v in row] for row in m.weight.detach().cpu().tolist()
                    ],
                    "bias": [float(f"{v:.6g}") for v in m.bias.detach().cpu().tolist()],
                }
            )
        elif isinstance(m, nn.ReLU):
            out.append({"type": "relu"})
        else:
            raise TypeError(f"unsupported layer {type(m).__name__}")
    return out


def model_from_layers_json(layers: list[dict[str, object]]) -> nn.Sequential:
    mods: list[nn.Module] = []
    for spec in layers:
        if spec["type"] == "relu":
            mods.append(nn.ReLU())
            continue
        if spec["type"] != "linear":
            raise ValueError(f"unknown layer type {spec['type']!r}")
        w = torch.tensor(spec["weight"], dtype=torch.float32)
        b = torch.tensor(spec["bias"], dtype=torch.float32)
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mods.append(lin)
    model = nn.Sequential(*mods)
    model.eval()
    return model
