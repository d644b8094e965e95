"""The Q4_0 converter and the checksummed, self-healing model cache."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from models import backbone
from models.backbone import MANIFEST, _dequantize_q4, ensure_backbone, verify


def _block(scale: float, values: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then 16 bytes holding the 32 4-bit values (offset by 8)."""
    q = [v + 8 for v in values]
    packed = bytes((q[j] & 0x0F) | (q[j + 16] << 4) for j in range(16))
    return struct.pack("<e", scale) + packed


def test_dequantize_q4_follows_the_block_layout() -> None:
    first = list(range(-8, 8)) + list(range(7, -9, -1))
    second = [3] * 32
    raw = _block(0.5, first) + _block(-2.0, second)
    out = _dequantize_q4(raw, 64, 32)
    expected = np.array([v * 0.5 for v in first] + [v * -2.0 for v in second], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)


def test_verify_rejects_missing_or_mismatched_files(tmp_path: Path) -> None:
    for name in backbone.CACHE_FILES:
        (tmp_path / name).write_text(name)
    manifest = {
        "converter": backbone.CONVERTER_VERSION,
        "files": {name: backbone._sha256(tmp_path / name) for name in backbone.CACHE_FILES},
    }
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    assert verify(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert not verify(tmp_path)
    (tmp_path / "config.json").write_text("config.json")
    assert verify(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    assert not verify(tmp_path)
    (tmp_path / MANIFEST).unlink()
    assert not verify(tmp_path)


def test_bad_magic_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(backbone.BackboneError, match="magic"):
        backbone.read_e5s1(bogus)


@pytest.mark.model
def test_corrupted_cache_is_detected_and_rebuilt(tmp_path: Path) -> None:
    good = ensure_backbone()  # the shared cache (converted on first use)
    cache = tmp_path / "cache"
    target = cache / good.name
    shutil.copytree(good, target)
    reference = backbone._sha256(target / "model.safetensors")
    # Flip bytes in the middle of the weights: same size, different content.
    with (target / "model.safetensors").open("r+b") as fh:
        fh.seek(10_000_000)
        fh.write(b"\x00" * 64)
    assert not verify(target)
    rebuilt = ensure_backbone(cache)
    assert rebuilt == target
    assert verify(rebuilt)
    assert backbone._sha256(rebuilt / "model.safetensors") == reference


def _fake_convert(source: Path, out: Path) -> None:
    for name in backbone.CACHE_FILES:
        (out / name).write_text(f"{name} from {source.name}")
    files = {name: backbone._sha256(out / name) for name in backbone.CACHE_FILES}
    (out / MANIFEST).write_text(json.dumps({"converter": backbone.CONVERTER_VERSION, "files": files}))


def test_partial_cache_is_rebuilt_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbone, "convert", _fake_convert)
    source = tmp_path / "e5.bin"
    source.write_bytes(b"x")
    cache = tmp_path / "cache"
    target = ensure_backbone(cache, source=source)
    assert verify(target)
    (target / MANIFEST).unlink()  # as if a copy had been interrupted
    (target / "model.safetensors").write_text("half")
    assert ensure_backbone(cache, source=source) == target
    assert verify(target)
    assert [p.name for p in cache.iterdir()] == [target.name]  # no temp or stale directory left


def test_failed_conversion_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(source: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise backbone.BackboneError("disk full")

    monkeypatch.setattr(backbone, "convert", explode)
    source = tmp_path / "e5.bin"
    source.write_bytes(b"x")
    cache = tmp_path / "cache"
    with pytest.raises(backbone.BackboneError):
        ensure_backbone(cache, source=source)
    assert list(cache.iterdir()) == []


@pytest.mark.model
def test_converted_directory_loads_offline_with_expected_tokens() -> None:
    from transformers import AutoConfig, AutoTokenizer

    path = ensure_backbone()
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (384, 12, 250037)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    # XLM-R ids: <s>=0, </s>=2; "▁Hello"=35378, "▁world"=8999, "!"=38
    assert tok("Hello world!")["input_ids"] == [0, 35378, 8999, 38, 2]


def test_a_configured_cache_dir_string_is_used(tmp_path: Path) -> None:
    """`[classifier] cache_dir` reaches the cache as a string; a non-empty one used to crash (str.expanduser)."""
    target = tmp_path / f"{backbone.BACKBONE_NAME}-v{backbone.CONVERTER_VERSION}"
    target.mkdir()
    (target / MANIFEST).write_text("{}", encoding="utf-8")
    assert ensure_backbone(str(tmp_path), check=False) == target
