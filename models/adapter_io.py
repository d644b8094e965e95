"""Reads and writes our shipped part (LoRA matrices + heads) as safetensors with its config in the metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models.network import AdapterConfig

WEIGHTS_DIR = Path(__file__).with_name("weights")
ADAPTER_FILE = "adapter.safetensors"


def packaged_adapter() -> Path:
    """Path of the adapter that ships with the package."""
    return WEIGHTS_DIR / ADAPTER_FILE


def save_adapter(path: Path, state: dict[str, torch.Tensor], config: AdapterConfig, version: str) -> None:
    """Write `state` and its config; the file is written beside the target and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    meta = {"adapter_config": json.dumps(config.to_dict()), "version": version}
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=meta)
    tmp.chmod(0o644)
    tmp.replace(path)


def load_adapter(path: Path) -> tuple[dict[str, torch.Tensor], AdapterConfig, str]:
    """Read an adapter file: (tensors, config, version)."""
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    if "adapter_config" not in meta:
        raise ValueError(f"{path} is not a listener adapter (no adapter_config metadata)")
    config = AdapterConfig(**json.loads(meta["adapter_config"]))
    return state, config, meta.get("version", "unknown")
