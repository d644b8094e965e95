"""The CPU facts the int8 export adapts to."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.cpu import cpu_flags, int8_weight_bits


def test_flags_come_from_the_first_processor(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("flags", "machine", "bits"),
    [
        ({"avx2", "fma"}, "x86_64", 7),  # AVX2 without VNNI: 16-bit pair sums saturate
        ({"avx2", "avx_vnni"}, "x86_64", 8),  # Alder Lake and later
        ({"avx512f", "avx512_vnni"}, "x86_64", 8),  # Cascade Lake, Zen 4
        ({"amx_int8"}, "AMD64", 8),
        (set(), "aarch64", 8),  # ARM's int8 dot products accumulate in 32 bits
    ],
)
def test_weights_get_7_bits_only_on_x86_without_vnni(flags, machine, bits, monkeypatch) -> None:
    monkeypatch.delenv("LISTENER_INT8_WEIGHT_BITS", raising=False)
    assert int8_weight_bits(frozenset(flags), machine) == bits


def test_the_environment_overrides_the_probe(monkeypatch) -> None:
    monkeypatch.setenv("LISTENER_INT8_WEIGHT_BITS", "7")
    assert int8_weight_bits(frozenset({"avx512_vnni"}), "x86_64") == 7
