"""The MQTT classifier pool: the core's `PoolClassifier` (client.py) and the worker processes (worker.py)."""
