"""Deep metric learning losses (PyTorch), import-compatible with pytorch-metric-learning.

Each family lives in its own module with a plain function first and a thin
``torch.nn.Module`` beside it. Shared losses keep PML's class names, hyperparameter
names, defaults, default distances and default reductions.
"""

from __future__ import annotations

# --- literature losses (owned by the literature-losses helper) ---
# --- end literature losses ---
