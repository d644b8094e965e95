"""What this CPU offers the model kernels, read from /proc/cpuinfo (no torch: the ONNX serving path uses it)."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# Any of these gives x86 an 8-bit x 8-bit dot product that accumulates in 32 bits.
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first processor's feature flags (empty when they cannot be read)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def int8_weight_bits(flags: frozenset[str] | None = None, machine: str | None = None) -> int:
    """8, or 7 where int8 weights must leave a bit of headroom: x86 without VNNI.

    There the uint8 x int8 kernels add pairs of products in 16 bits, which saturate (255 x 127 x 2 > 32767)
    and silently change the answers; 7-bit weights cannot overflow (ONNX Runtime's `reduce_range`).
    `LISTENER_INT8_WEIGHT_BITS=7` or `8` overrides the choice."""
    forced = os.environ.get("LISTENER_INT8_WEIGHT_BITS")
    if forced in ("7", "8"):
        return int(forced)
    arch = (machine or platform.machine()).lower()
    if arch not in _X86:
        return 8
    return 8 if (cpu_flags() if flags is None else flags) & VNNI_FLAGS else 7
