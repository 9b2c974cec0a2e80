"""ML core: features, models, DP training, accounting, HE scoring, SHAP (no Django)."""
