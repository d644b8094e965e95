"""Process-wide memory settings for serving: fewer glibc malloc arenas, and freed heap given back."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

# mallopt parameter numbers from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    # musl and other C libraries have no mallopt / malloc_trim: then this module does nothing.
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@functools.cache
def configure_process() -> None:
    """Cap glibc's arenas and serve big blocks from mmap; call before torch starts its threads.

    Each thread that allocates gets its own glibc arena (up to 8 per core), and freed activation
    buffers of varying sizes fragment them: on the project VM that grew the heap by 200-500 MB
    while classifying. `MALLOC_ARENA_MAX` / `LISTENER_MALLOC_MMAP_THRESHOLD` in the environment
    win over the defaults here.
    """
    libc = _libc()
    if libc is None:
        return
    arenas = int(os.environ.get("MALLOC_ARENA_MAX", "2"))
    libc.mallopt(_M_ARENA_MAX, arenas)
    threshold = int(os.environ.get("LISTENER_MALLOC_MMAP_THRESHOLD", str(1 << 20)))
    if threshold > 0:
        # Blocks above the threshold are mmapped and unmapped on free, so they never pin heap pages.
        libc.mallopt(_M_MMAP_THRESHOLD, threshold)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 * threshold)


def release_memory() -> None:
    """Give freed heap pages back to the OS (after a predict call)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
