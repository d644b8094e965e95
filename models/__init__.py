"""Classifiers: multilingual sentiment and complaint detection behind `predict(texts)`."""
