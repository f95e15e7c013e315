"""Modeling: temporal splits, train/test matrices, the model grid, evaluation and model selection."""
