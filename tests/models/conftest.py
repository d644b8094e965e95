"""Shared fixtures: the real classifier, loaded once per test session from the packaged weights."""

from __future__ import annotations

import os

import pytest

# Nothing in these tests may reach the model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from models.transformer import TransformerClassifier


@pytest.fixture(scope="session")
def classifier() -> TransformerClassifier:
    """The builtin classifier exactly as the daemon loads it (default cache, packaged adapter)."""
    return TransformerClassifier(threads=2)


@pytest.fixture(scope="session")
def onnx_classifier():
    """The builtin classifier on ONNX Runtime (fp32), exported into the default cache on first use."""
    from models.onnx_runtime import OnnxClassifier

    return OnnxClassifier(threads=2)


@pytest.fixture(scope="session")
def torch_fp32() -> TransformerClassifier:
    """The torch serving path forced to fp32 (on a CPU with working AMX it would pick bf16), to compare with ONNX."""
    import torch

    return TransformerClassifier(threads=2, dtype=torch.float32)
