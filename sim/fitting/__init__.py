"""Fitting the model's behaviour to a company's own engagement data (docs/fit.md)."""
