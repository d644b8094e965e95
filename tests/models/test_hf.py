"""The Hugging Face backend, against tiny random BERT classifiers the tests build and save themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from config.schema import ClassifierSettings
from listener.errors import ConfigError
from models.hf import HuggingFaceClassifier
from models.loader import load_classifier

WORDS = ["good", "bad", "service", "order", "late", "love", "it", "the", "is", "my"]


def _save_tiny_model(path: Path, id2label: dict[int, str], seed: int = 0) -> Path:
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    fast.save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    model = BertForSequenceClassification(config)
    # Random init gives near-uniform outputs; larger head weights make the test meaningful.
    torch.nn.init.normal_(model.classifier.weight, std=3.0)
    model.save_pretrained(path)
    return path


def _reference(path: Path, text: str) -> torch.Tensor:
    tok = PreTrainedTokenizerFast.from_pretrained(path)
    model = BertForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        return model(**tok([text], return_tensors="pt")).logits.softmax(-1)[0]


def test_three_label_model_with_mapping(tmp_path: Path) -> None:
    path = _save_tiny_model(tmp_path / "m", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    settings = ClassifierSettings(
        backend="huggingface",
        model=str(path),
        labels={"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"},
        complaint_threshold=0.3,
    )
    clf = load_classifier(settings)
    assert isinstance(clf, HuggingFaceClassifier)
    texts = ["my order is late", "", "love it good service", "🎉 https://x.io"]
    out = clf.predict(texts)
    assert [r.scored for r in out] == [True, False, True, False]
    assert out[1].unscored_reason == "empty" and out[3].unscored_reason == "no_text"
    ref = _reference(path, texts[0])
    r = out[0]
    assert [r.p_negative, r.p_neutral, r.p_positive] == pytest.approx(ref.tolist(), abs=1e-5)
    # No complaint label: the complaint probability is p_negative, flagged at the threshold.
    assert r.p_complaint == pytest.approx(r.p_negative)
    assert r.complaint == (r.p_negative >= 0.3)
    assert r.model_id == f"hf:{path}"
    assert r.sentiment.value == ["negative", "neutral", "positive"][int(ref.argmax())]


def test_labels_named_like_sentiments_need_no_mapping_and_complaint_label_is_used(tmp_path: Path) -> None:
    path = _save_tiny_model(tmp_path / "m", {0: "negative", 1: "positive", 2: "complaint"}, seed=1)
    clf = HuggingFaceClassifier(str(path))
    ref = _reference(path, "bad service")
    r = clf.predict(["bad service"])[0]
    neg, pos, complaint = ref.tolist()
    # Two sentiment labels: renormalised over them, neutral is 0; the complaint label is its own column.
    assert r.p_negative == pytest.approx(neg / (neg + pos), abs=1e-5)
    assert r.p_positive == pytest.approx(pos / (neg + pos), abs=1e-5)
    assert r.p_neutral == 0.0
    assert r.p_complaint == pytest.approx(complaint, abs=1e-5)


def test_unmappable_labels_are_a_config_error(tmp_path: Path) -> None:
    path = _save_tiny_model(tmp_path / "m", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ConfigError, match="classifier.labels"):
        HuggingFaceClassifier(str(path), {"other": "positive"})


def test_missing_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="classifier.model"):
        HuggingFaceClassifier(str(tmp_path / "nothing-here"), {"a": "positive"})
