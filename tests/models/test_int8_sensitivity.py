"""The int8 sensitivity search's groups and rankings (the search itself needs the val data: benchmarks)."""

from __future__ import annotations

from benchmarks.int8_sensitivity import _ranking, groups, units
from models.onnx_runtime import INT8_KINDS, int8_nodes_for


def test_groups_are_the_quantizable_nodes_and_units_partition_them() -> None:
    assert groups() == int8_nodes_for("all", 12)
    for by in ("node", "layer", "kind"):
        parts = units(by)
        assert sorted(n for nodes in parts.values() for n in nodes) == sorted(groups())
    assert units("layer")["layer4"] == [f"layer4.{kind}" for kind in INT8_KINDS]
    assert units("kind")["ffn_out"] == [f"layer{i}.ffn_out" for i in range(12)]


def test_ranking_puts_the_most_sensitive_group_first_for_either_search() -> None:
    drifts = {"a": 3.7, "b": 2.6, "c": 3.5}
    without = {"mode": "without", "groups": {k: {"drift": v} for k, v in drifts.items()}}
    # Keeping b fp32 leaves the least drift: b matters most.
    assert _ranking(without) == ["b", "c", "a"]
    alone = {"mode": "alone", "groups": {k: {"drift": v} for k, v in drifts.items()}}
    # Quantizing a alone drifts most: a matters most.
    assert _ranking(alone) == ["a", "c", "b"]
