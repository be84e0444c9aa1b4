"""Reading embeddings and labels from files, and built-in datasets."""

from .io import load_array, load_embeddings, load_labels

__all__ = ["load_array", "load_embeddings", "load_labels"]
