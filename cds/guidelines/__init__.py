"""Guideline engine: rules as versioned data files and a pure evaluator (no Django)."""
