"""The serving path (sentencepiece tokenizer, plain-torch encoder with Q4 embeddings) against the training path."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from models.backbone import _dequantize_q4, ensure_backbone
from models.encoder import Q4Embedding, quantize_int8
from models.spm import SentencePieceTokenizer, model_proto
from models.train import pad

# English, Japanese and the whitespace / symbol corners where two tokenizers could disagree.
TEXTS = [
    "@united my bag is lost AGAIN and nobody answers the phone. 3 days!!",
    "Loving the new update, the app finally feels fast 😍 https://t.co/abc",
    "Does anyone know if the store on 5th opens on Sundays?",
    "注文した商品が一週間たっても届きません。問い合わせにも返事がない。",
    "スタッフの対応がとても丁寧で、また泊まりたいです！",
    "ｶﾀｶﾅ と ① は NFKC で変わる",
    " leading space",
    "trailing space ",
    "  many   spaces   inside  ",
    "line one\nline two\ttab",
    "ideographic\u3000space",
    "ﬁne ligatures",
]


def _block(scale: float, values: list[int]) -> bytes:
    q = [v + 8 for v in values]
    return struct.pack("<e", scale) + bytes((q[j] & 0x0F) | (q[j + 16] << 4) for j in range(16))


def test_q4_embedding_rows_equal_the_converter_dequantization_rounded_to_bf16() -> None:
    rng = np.random.default_rng(3)
    hidden, vocab = 64, 5
    raw = b"".join(
        _block(float(rng.uniform(-0.1, 0.1)), [int(v) for v in rng.integers(-8, 8, 32)])
        for _ in range(vocab * hidden // 32)
    )
    table = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).reshape(vocab, -1).copy())
    expected = torch.from_numpy(_dequantize_q4(raw, vocab * hidden, 32).reshape(vocab, hidden))
    ids = torch.tensor([[4, 0, 2], [1, 1, 3]])
    out = Q4Embedding(table, hidden)(ids)
    assert out.shape == (2, 3, hidden)
    torch.testing.assert_close(out, expected[ids].to(torch.bfloat16).float(), rtol=0, atol=0)


def test_hand_written_model_proto_loads_in_sentencepiece(tmp_path: Path) -> None:
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁ab", -1.0), ("▁a", -2.0),
              ("b", -2.0), ("c", -3.0), ("▁", -4.0), ("<mask>", 0.0)]
    path = tmp_path / "tiny.model"
    path.write_bytes(model_proto(pieces, {"bos": 0, "pad": 1, "eos": 2, "unk": 3}, [9]))
    tok = SentencePieceTokenizer(path)
    assert tok.pad_token_id == 1
    # "▁ab" beats "▁a"+"b"; "c" is a piece; "x" and a bare "a" (only "▁a" exists) are unknown.
    assert tok.encode(["ab c x", "abcabc"], max_length=16) == [[0, 4, 8, 7, 8, 3, 2], [0, 4, 7, 3, 6, 7, 2]]
    assert tok.encode(["ab ab ab ab"], max_length=4) == [[0, 4, 4, 2]]


@pytest.mark.model
def test_sentencepiece_ids_equal_the_tokenizers_ids() -> None:
    from transformers import AutoTokenizer

    path = ensure_backbone()
    reference = AutoTokenizer.from_pretrained(path, local_files_only=True)
    lean = SentencePieceTokenizer(path / "sentencepiece.model")
    expected = reference(TEXTS, truncation=True, max_length=128)["input_ids"]
    assert lean.encode(TEXTS, 128) == expected
    long = ["word " * 300]
    assert lean.encode(long, 128) == reference(long, truncation=True, max_length=128)["input_ids"]


@pytest.mark.model
def test_serving_net_equals_the_training_net() -> None:
    from models.adapter_io import packaged_adapter
    from models.transformer import TransformerClassifier, load_listener_net

    # Both in fp32: the session's classifier runs in bf16 where the CPU's AMX works, and bf16's
    # accuracy cost is measured by the benchmark, not asserted here.
    classifier = TransformerClassifier(threads=2, dtype=torch.float32)
    reference = load_listener_net(ensure_backbone(), packaged_adapter())
    ids = classifier.tokenizer.encode(TEXTS, 128)
    same_length = [ids[0][:8], ids[1][:8]]  # no padding: the serving net skips the attention mask
    with torch.inference_mode():
        for batch in (ids, same_length):
            input_ids, mask = pad(batch, classifier.tokenizer.pad_token_id, torch.device("cpu"))
            got = classifier.net(input_ids, mask)
            want = reference(input_ids, mask)
            torch.testing.assert_close(got[0], want[0], rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(got[1], want[1], rtol=1e-4, atol=1e-4)


@pytest.mark.model
def test_int8_swaps_only_the_chosen_linears(classifier) -> None:
    import copy

    net = copy.deepcopy(classifier.net)
    names = quantize_int8(net, [0, 1], ["ffn_in"])
    assert names == ["layers.0.ffn_in", "layers.1.ffn_in"]
    assert type(net.layers[0].ffn_in) is not torch.nn.Linear
    assert type(net.layers[0].ffn_out) is torch.nn.Linear
    assert type(net.layers[2].ffn_in) is torch.nn.Linear
    with pytest.raises(ValueError, match="unknown Linear kind"):
        quantize_int8(net, [3], ["pooler"])
