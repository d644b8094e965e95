"""Builds the configured classifier (builtin transformer, a Hugging Face model or the worker pool)."""

from __future__ import annotations

from config.schema import ClassifierSettings
from models.base import Classifier


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
    from models.transformer import TransformerClassifier

    return TransformerClassifier(
        cache_dir=settings.cache_dir,
        complaint_threshold=settings.complaint_threshold,
        unsure_band=settings.unsure_band,
        require_agreement=settings.require_agreement,
        threads=settings.threads,
        batch_size=settings.batch_size,
    )
