"""A lean tokenizer for the e5 vocabulary: the same Unigram pieces run by the `sentencepiece` library.

`tokenizers` builds a per-character trie for the 250k-piece vocabulary that stays ~290 MB resident;
sentencepiece keeps the same pieces in a double-array trie of a few MB and finds the same Viterbi
segmentation. The normalisation of the cached `tokenizer.json` (NFKC, runs of spaces collapsed,
"▁" before every word) is done here in Python so both produce the same ids.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Sequence
from pathlib import Path

SPM_FILE = "sentencepiece.model"
_SPACES = re.compile(" {2,}")

# sentencepiece_model.proto piece types
_NORMAL, _UNKNOWN, _CONTROL = 1, 2, 3


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _int_field(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def model_proto(pieces: Sequence[tuple[str, float]], special: dict[str, int], control: Sequence[int]) -> bytes:
    """A serialized sentencepiece ModelProto (Unigram) holding `pieces` with their ids unchanged.

    `special` maps bos/eos/pad/unk to ids; `control` lists further control ids (e.g. <mask>).
    Written by hand (a handful of protobuf fields) so no protobuf dependency is needed.
    """
    controls = {special["bos"], special["eos"], special["pad"], *control}
    out = bytearray()
    for index, (piece, score) in enumerate(pieces):
        kind = _UNKNOWN if index == special["unk"] else _CONTROL if index in controls else _NORMAL
        body = _bytes_field(1, piece.encode("utf-8")) + _key(2, 5) + struct.pack("<f", score) + _int_field(3, kind)
        out += _bytes_field(1, body)
    trainer = (
        _int_field(3, 1)  # model_type = UNIGRAM
        + _int_field(4, len(pieces))
        + _int_field(40, special["unk"])
        + _int_field(41, special["bos"])
        + _int_field(42, special["eos"])
        + _int_field(43, special["pad"])
    )
    out += _bytes_field(2, trainer)
    # Identity normaliser: NFKC and space handling happen in `normalize`, exactly as tokenizer.json does.
    normalizer = _bytes_field(1, b"identity") + _int_field(3, 1) + _int_field(4, 0) + _int_field(5, 1)
    out += _bytes_field(3, normalizer)
    return bytes(out)


def normalize(text: str) -> str:
    """NFKC, runs of spaces collapsed to one, one leading space (the word marker of the first word)."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text))
    # sentencepiece adds the dummy "▁" itself; a text that already starts with a space gets none there.
    return text[1:] if text.startswith(" ") else text


class SentencePieceTokenizer:
    """Token ids (with <s> … </s>) for the e5 vocabulary, loaded from the cached sentencepiece model."""

    def __init__(self, path: Path) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.pad_token_id = self._sp.pad_id()
        self.bos_token_id = self._sp.bos_id()
        self.eos_token_id = self._sp.eos_id()

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """Ids of each text, truncated so that with <s> and </s> it has at most `max_length` tokens."""
        body = self._sp.encode([normalize(t) for t in texts])
        keep = max_length - 2
        return [[self.bos_token_id, *ids[:keep], self.eos_token_id] for ids in body]
