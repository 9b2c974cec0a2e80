"""Multi-site synthetic cohort generator with known ground truth (pure numpy, no Django)."""
