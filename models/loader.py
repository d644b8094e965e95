"""Builds the configured classifier (builtin on ONNX Runtime or torch, a Hugging Face model, or the worker pool)."""

from __future__ import annotations

import logging
from pathlib import Path

from config.schema import ClassifierSettings
from models.base import Classifier

log = logging.getLogger(__name__)


def load_classifier(settings: ClassifierSettings) -> Classifier:
    """The classifier that `[classifier]` names; heavy imports happen only here, on first use."""
    if settings.backend == "pool":
        from models.pool.client import PoolClassifier

        pool = PoolClassifier(settings.pool)
        pool.start()
        return pool
    if settings.backend == "huggingface":
        from models.hf import HuggingFaceClassifier

        return HuggingFaceClassifier(
            settings.model,
            settings.labels,
            complaint_threshold=settings.complaint_threshold,
            threads=settings.threads,
            batch_size=settings.batch_size,
        )
    cache_dir = Path(settings.cache_dir).expanduser() if settings.cache_dir else None
    if settings.runtime == "onnx":
        onnx = _load_onnx(settings, cache_dir)
        if onnx is not None:
            return onnx
    from models.transformer import TransformerClassifier

    return TransformerClassifier(
        cache_dir=cache_dir,
        complaint_threshold=settings.complaint_threshold,
        unsure_band=settings.unsure_band,
        require_agreement=settings.require_agreement,
        threads=settings.threads,
        batch_size=settings.batch_size,
    )


def _load_onnx(settings: ClassifierSettings, cache_dir: Path | None) -> Classifier | None:
    """The ONNX Runtime classifier, or None (with one log line) when onnxruntime or the export is unavailable."""
    try:
        from models.onnx_runtime import OnnxClassifier, OnnxExportError
    except ImportError as exc:
        log.warning("classifier.runtime = \"onnx\" but %s cannot be imported; using the torch runtime", exc.name)
        return None
    try:
        return OnnxClassifier(
            cache_dir=cache_dir,
            complaint_threshold=settings.complaint_threshold,
            threads=settings.threads,  # batch_size is the stage's; inside a call the model batches (RUN_BATCH)
            int8=settings.int8,
            unsure_band=settings.unsure_band,
            require_agreement=settings.require_agreement,
        )
    except (ImportError, OnnxExportError) as exc:
        log.warning("ONNX runtime unavailable (%s); using the torch runtime", exc)
        return None
