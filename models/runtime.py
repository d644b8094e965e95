"""Hardware facts the model code adapts to: bf16 support, device choice and torch thread settings."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from models.cpu import cpu_flags

log = logging.getLogger(__name__)

# A bf16 matmul big enough for oneDNN to pick its AMX kernel; run in a child process because
# on some virtual machines the CPU advertises AMX but executing it kills the process (SIGILL).
_PROBE = (
    "import torch; torch.set_num_threads(1); "
    "a = torch.ones(64, 384, dtype=torch.bfloat16); b = torch.ones(384, 384, dtype=torch.bfloat16); "
    "assert float((a @ b)[0, 0]) == 384.0"
)


def _probe_key(flags: frozenset[str]) -> str:
    raw = "|".join([" ".join(sorted(flags)), platform.release(), torch.__version__])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _probe_amx(cache_file: Path | None) -> bool:
    flags = cpu_flags()
    key = _probe_key(flags)
    if cache_file is not None:
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("key") == key:
                return bool(cached["amx_ok"])
        except (OSError, ValueError, KeyError):
            pass
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=120)
        ok = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        log.info("bf16 (AMX) matmul is not usable on this machine; using fp32")
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps({"key": key, "amx_ok": ok}))
        except OSError:
            pass
    return ok


@functools.cache
def cpu_has_fast_bf16(cache_file: Path | None = None) -> bool:
    """True when bf16 is both faster than fp32 here (AMX) and actually runs (checked once, remembered).

    Without AMX, AVX512-BF16 alone measured slower than fp32 on the project's machines, so it
    does not count. `LISTENER_BF16=0/1` overrides the decision.
    """
    forced = os.environ.get("LISTENER_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    if "amx_bf16" not in cpu_flags():
        return False
    return _probe_amx(cache_file)


def pick_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fast_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the hardware has it, else fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    from models.backbone import default_cache_root

    return torch.bfloat16 if cpu_has_fast_bf16(default_cache_root() / "cpu-probe.json") else torch.float32


def set_threads(threads: int) -> None:
    """Pin torch's intra-op threads; inter-op stays 1 because the pipeline calls predict from one thread."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once per process, before any parallel work
        pass
