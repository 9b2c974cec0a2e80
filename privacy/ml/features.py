"""Feature matrices in the contract's order, standardization and imputation.

Why impute with the training mean after standardization (i.e. 0): "not known" must not be
read as a value (a missing UACR is not a UACR of 0 mg/g), and a constant keeps the model
plain Linear/ReLU so exact SHAP applies. The scaler's statistics travel in the artifact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ehr_integration.fhir.contract import FEATURE_NAMES


def feature_row(features: Mapping[str, float | None]) -> np.ndarray:
    """One patient's features as a float row (NaN for None or absent) in contract order."""
    row = np.full(len(FEATURE_NAMES), np.nan)
    for i, name in enumerate(FEATURE_NAMES):
        v = features.get(name)
        if v is not None:
            row[i] = float(v)
    return row


@dataclass(frozen=True)
class Scaler:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Scaler:
        mean = np.nanmean(np.where(np.isfinite(X), X, np.nan), axis=0)
        mean = np.where(np.isnan(mean), 0.0, mean)
        std = np.nanstd(np.where(np.isfinite(X), X, np.nan), axis=0)
        std = np.where(~np.isfinite(std) | (std < 1e-6), 1.0, std)
        return cls(mean=mean.astype(np.float64), std=std.astype(np.float64))

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean) / self.std
        return np.where(np.isfinite(Z), Z, 0.0).astype(np.float32)

    def as_json(self) -> dict[str, list[float]]:
        return {
            "mean": [round(float(v), 6) for v in self.mean],
            "std": [round(float(v), 6) for v in self.std],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, list[float]]) -> Scaler:
        return cls(mean=np.asarray(data["mean"], float), std=np.asarray(data["std"], float))
