"""The needs-reply head, loading adapters written before it, and resumable multi-task training (tiny encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel

from models.network import AdapterConfig, ListenerNet
from models.train import Cached, Example, TrainSettings, predict_all, train


def _net(seed: int = 0) -> ListenerNet:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=60, hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    adapter = AdapterConfig(first_layer=2, rank=2, alpha=4.0)
    return ListenerNet(BertModel(config, add_pooling_layer=False), adapter).eval()


def _data(start: int) -> Cached:
    gen = torch.Generator().manual_seed(1)
    examples = [Example(f"t{i}", i % 3, i % 2, (i // 2) % 2) for i in range(24)]
    examples += [Example(f"s{i}", i % 3) for i in range(8)] + [Example(f"c{i}", None, i % 2) for i in range(8)]
    states = [torch.randn(3 + i % 5, 16, generator=gen).to(torch.bfloat16) for i in range(len(examples))]
    return Cached(states, examples, start)


def test_adapter_without_needs_reply_head_still_loads() -> None:
    net = _net()
    old = {k: v for k, v in net.trainable_state().items() if not k.startswith("needs_reply_head")}
    old["complaint_head.weight"] = torch.full_like(old["complaint_head.weight"], 0.25)
    other = _net(seed=1)
    assert other.load_trainable(old) == ["needs_reply_head"]
    assert torch.equal(other.needs_reply_head.weight, other.complaint_head.weight)
    state = other.trainable_state()
    assert {"needs_reply_head.weight", "needs_reply_head.bias"} <= set(state)
    assert _net(seed=2).load_trainable(state) == []


def test_unknown_tensors_are_refused() -> None:
    net = _net()
    state = net.trainable_state() | {"bogus_head.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match="unknown"):
        net.load_trainable(state)


def test_a_shallower_adapter_loads_into_a_deeper_net_unchanged() -> None:
    shallow = _net()
    with torch.no_grad():
        for name, p in shallow.named_parameters():
            if "lora_b" in name:
                p.normal_()  # a trained adapter: B is no longer zero
    torch.manual_seed(0)  # the same encoder weights as `shallow`'s
    encoder = BertModel(shallow.encoder.config, add_pooling_layer=False)
    deep = ListenerNet(encoder, AdapterConfig(first_layer=0, rank=2, alpha=4.0)).eval()
    with pytest.raises(ValueError, match="missing"):
        deep.load_trainable(shallow.trainable_state())
    deep.load_trainable(shallow.trainable_state(), new_lora_ok=True)
    ids = torch.tensor([[1, 5, 7, 9, 2]])
    mask = torch.ones_like(ids)
    assert torch.allclose(deep(ids, mask)[0], shallow(ids, mask)[0], atol=1e-6)
    new = [n for n in deep.trainable_state() if "lora_b" in n and ".layer.0." in n]
    assert new and all(not deep.trainable_state()[n].any() for n in new)


def test_frozen_lora_is_still_shipped() -> None:
    net = _net()
    net.freeze_lora_below(3)
    frozen = [n for n, p in net.named_parameters() if "lora_" in n and not p.requires_grad]
    assert frozen and all(".layer.2." in n for n in frozen)
    assert set(frozen) <= set(net.trainable_state())


def test_training_moves_all_three_heads_and_resumes_exactly(tmp_path: Path) -> None:
    data = _data(start=3)
    start_state = _net().trainable_state()

    def fresh() -> ListenerNet:
        net = _net(seed=5)
        net.load_trainable(start_state)
        net.freeze_lora_below(3)
        return net

    settings = dict(max_steps=4, batch_size=8, progress=False, checkpoint_every=2, eval_every=3)
    straight = fresh()
    train(straight, data, TrainSettings(**settings))
    for head in ("sentiment_head", "complaint_head", "needs_reply_head"):
        assert not torch.equal(straight.trainable_state()[f"{head}.weight"], start_state[f"{head}.weight"])
    # Layer 2's LoRA is below the cache boundary: untouched.
    frozen = "encoder.encoder.layer.2.attention.self.query.lora_a"
    assert torch.equal(straight.trainable_state()[frozen], start_state[frozen])

    checkpoint = tmp_path / "checkpoint.pt"

    def crash(step: int) -> None:
        raise KeyboardInterrupt

    interrupted = fresh()
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, data, TrainSettings(**settings, checkpoint=checkpoint), on_eval=crash)
    assert checkpoint.is_file()  # written at step 2, before the crash at step 3
    resumed = fresh()
    assert train(resumed, data, TrainSettings(**settings, checkpoint=checkpoint)) == 4
    for name, value in straight.trainable_state().items():
        assert torch.allclose(resumed.trainable_state()[name], value, atol=1e-6), name
    sent, comp, reply = predict_all(resumed, data)
    assert sent.shape == (len(data.states), 3) and comp.shape == reply.shape == (len(data.states),)
    assert sent.dtype == comp.dtype == torch.float32


def _kl_to(net: ListenerNet, data: Cached, teacher: torch.Tensor) -> float:
    sent, _, _ = predict_all(net, data)
    return float((teacher * (teacher.log() - sent.clamp_min(1e-9).log())).sum(-1).mean())


def test_distillation_keeps_sentiment_near_the_teacher() -> None:
    data = _data(start=2)
    # A teacher that disagrees with the hard labels: "always neutral-ish" on every row.
    teacher = torch.tensor([0.1, 0.8, 0.1]).repeat(len(data.examples), 1)
    settings = dict(max_steps=200, batch_size=8, progress=False, lr=5e-2, head_lr=5e-2)
    plain = _net(seed=3)
    train(plain, data, TrainSettings(**settings))
    data.soft = teacher
    distilled = _net(seed=3)
    train(distilled, data, TrainSettings(**settings, distill_weight=20.0))
    assert _kl_to(distilled, data, teacher) < 0.75 * _kl_to(plain, data, teacher)


def test_rows_without_a_teacher_are_not_distilled() -> None:
    data = _data(start=2)
    data.soft = torch.full((len(data.examples), 3), float("nan"))
    settings = dict(max_steps=3, batch_size=8, progress=False)
    a, b = _net(seed=4), _net(seed=4)
    train(a, data, TrainSettings(**settings))
    train(b, data, TrainSettings(**settings, distill_weight=5.0))
    for name, tensor in a.trainable_state().items():
        assert torch.equal(tensor, b.trainable_state()[name]), name
