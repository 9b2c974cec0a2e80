"""Training with and without DP-SGD (Opacus), with the accountant named and reported.

Why our own Poisson sampler instead of Opacus's DPDataLoader: the DataLoader collates one
sample at a time, which on CPU costs more than the per-sample gradients themselves for a
small MLP. We draw the same Poisson batches (each sample independently with probability q,
which is what the accountants assume) with one vectorized mask over a tensor, and hand the
step to Opacus's GradSampleModule + DPOptimizer + accountant exactly as make_private would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

GRAD_SAMPLE_MODES = ("ghost", "hooks", "ew", "functorch")
ACCOUNTANTS = ("prv", "rdp")


class SecureModeUnavailable(RuntimeError):
    """secure_mode needs torchcsprng (a cryptographically secure noise source)."""


@dataclass(frozen=True)
class DPConfig:
    epsilon: float
    delta: float
    max_grad_norm: float = 1.0
    accountant: str = "prv"
    # "ghost" (ghost clipping: per-sample gradient norms without materializing per-sample
    # gradients) is Opacus's fastest mode for Linear layers; the others are kept to compare.
    grad_sample_mode: str = "ghost"
    secure_mode: bool = False

    def __post_init__(self) -> None:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ValueError("epsilon must be a positive finite number")
        if not (0 < self.delta < 1):
            raise ValueError("delta must be in (0, 1)")
        if self.accountant not in ACCOUNTANTS:
            raise ValueError(f"accountant must be one of {ACCOUNTANTS}")
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise ValueError(f"grad_sample_mode must be one of {GRAD_SAMPLE_MODES}")


@dataclass
class TrainReport:
    loss_kind: str
    epochs: int
    batch_size: int
    steps: int
    seconds: float
    samples_per_s: float
    device: str
    dp: bool
    accountant: str | None = None
    epsilon: float | None = None  # spent, by the named accountant
    epsilon_rdp: float | None = None  # the same run under RDP, for comparison
    delta: float | None = None
    noise_multiplier: float | None = None
    sample_rate: float | None = None
    max_grad_norm: float | None = None
    grad_sample_mode: str | None = None
    secure_mode: bool = False
    final_loss: float = math.nan
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | dict(self.extra)


def device_resolve(device: str) -> torch.device:
    """auto -> cuda when present, else cpu; an explicit cuda without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError("device must be auto, cpu or cuda")
    return torch.device(device)


def _loss_per_sample(
    kind: str, logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Per-sample losses (B,); the batch loss is their mean (Opacus loss_reduction="mean")."""
    if kind == "softmax":
        return nn.functional.cross_entropy(logits, y.long(), reduction="none")
    if kind == "multilabel":
        bce = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        if mask is not None:
            bce = bce * mask
        return bce.sum(dim=1)
    raise ValueError(f"unknown loss kind {kind!r}")


def model_train(
    *,
    model: nn.Sequential,
    X: np.ndarray,
    y: np.ndarray,
    loss_kind: str,
    mask: np.ndarray | None = None,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float = 0.05,
    dp: DPConfig | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> TrainReport:
    """Train `model` in place. With `dp`, DP-SGD calibrated to (epsilon, delta) over the
    planned steps; the spent epsilon is read back from the accountant after training.

    Args:
        X: standardized features, float32 (n, F); y: class index (softmax) or 0/1 (n, R).
        mask: for multilabel, 1 where a risk is applicable (patient at risk).
        lr: SGD with momentum for both paths (same optimizer, so throughput compares).
    """
    n = X.shape[0]
    if n == 0:
        raise ValueError("no training samples")
    dev = device_resolve(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.float32, device=dev)
    mt = torch.as_tensor(mask, dtype=torch.float32, device=dev) if mask is not None else None
    model.to(dev)
    model.train()
    batch_size = min(batch_size, n)
    q = batch_size / n
    steps_per_epoch = max(1, round(1.0 / q))
    steps = steps_per_epoch * epochs
    report = TrainReport(
        loss_kind=loss_kind,
        epochs=epochs,
        batch_size=batch_size,
        steps=steps,
        seconds=0.0,
        samples_per_s=0.0,
        device=str(dev),
        dp=dp is not None,
    )

    trained: nn.Module = model
    optimizer: Any = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    accountant = None
    if dp is not None:
        from opacus.accountants import create_accountant
        from opacus.accountants.utils import get_noise_multiplier
        from opacus.grad_sample.utils import wrap_model
        from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping

        if dp.secure_mode:
            try:
                import torchcsprng  # type: ignore[import-not-found]  # noqa: F401
            except ImportError as exc:
                raise SecureModeUnavailable(
                    "secure_mode needs torchcsprng, which is not installed; install it or "
                    "train without --secure-mode"
                ) from exc
        sigma = get_noise_multiplier(
            target_epsilon=dp.epsilon,
            target_delta=dp.delta,
            sample_rate=q,
            steps=steps,
            accountant=dp.accountant,
        )
        ghost = dp.grad_sample_mode == "ghost"
        extra = {"max_grad_norm": dp.max_grad_norm} if ghost else {}
        trained = wrap_model(
            model,
            grad_sample_mode=dp.grad_sample_mode,
            batch_first=True,
            loss_reduction="mean",
            **extra,
        )
        opt_cls = DPOptimizerFastGradientClipping if ghost else DPOptimizer
        optimizer = opt_cls(
            torch.optim.SGD(trained.parameters(), lr=lr, momentum=0.9),
            noise_multiplier=sigma,
            max_grad_norm=dp.max_grad_norm,
            expected_batch_size=batch_size,
            loss_reduction="mean",
            secure_mode=dp.secure_mode,
        )
        accountant = create_accountant(mechanism=dp.accountant)
        optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=q))
        report.noise_multiplier, report.sample_rate = float(sigma), float(q)
        report.max_grad_norm, report.grad_sample_mode = dp.max_grad_norm, dp.grad_sample_mode
        report.accountant, report.delta, report.secure_mode = (
            dp.accountant,
            dp.delta,
            dp.secure_mode,
        )

    ghost_tensor = None
    if dp is not None and dp.grad_sample_mode == "ghost":
        from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

        ghost_tensor = DPTensorFastGradientClipping
    seen = 0
    t0 = time.perf_counter()
    last = math.nan
    for _ in range(steps):
        if dp is not None:
            idx = np.flatnonzero(
                rng.random(n) < q
            )  # Poisson sampling (what the accountant assumes)
        else:
            idx = rng.choice(n, size=batch_size, replace=False)
        if idx.size == 0:
            # An empty Poisson batch is still a step the accountant counts; nothing to learn.
            if accountant is not None:
                accountant.step(noise_multiplier=report.noise_multiplier, sample_rate=q)
            continue
        it = torch.as_tensor(idx, device=dev)
        optimizer.zero_grad(set_to_none=True)
        out = trained(Xt[it])
        per_sample = _loss_per_sample(loss_kind, out, yt[it], mt[it] if mt is not None else None)
        if ghost_tensor is not None:
            # Ghost clipping: two backward passes packaged by Opacus (norms, then clipped sum).
            loss = ghost_tensor(trained, optimizer, per_sample, "mean")
        else:
            loss = per_sample.mean()
        loss.backward()
        optimizer.step()
        seen += idx.size
        last = float(loss.detach())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    report.seconds = time.perf_counter() - t0
    report.samples_per_s = seen / report.seconds if report.seconds > 0 else math.nan
    report.final_loss = last
    if dp is not None and accountant is not None:
        from opacus.accountants import PRVAccountant, RDPAccountant

        report.epsilon = float(accountant.get_epsilon(delta=dp.delta))
        rdp = RDPAccountant()
        rdp.history = list(accountant.history)
        report.epsilon_rdp = float(rdp.get_epsilon(delta=dp.delta))
        if dp.accountant == "rdp":
            prv = PRVAccountant()
            prv.history = list(accountant.history)
            report.extra["epsilon_prv"] = float(prv.get_epsilon(delta=dp.delta))
        # Strip the per-sample-gradient wrapper: the artifact is the plain Sequential.
        close = getattr(trained, "_close", None)
        if trained is not model and callable(close):
            close()  # removes Opacus's hooks from the model's own layers
    model.eval()
    model.to("cpu")
    return report
