"""`classify`, `model eval` and `model train` through click, on small CSVs written by the tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import models as commands
from models.adapter_io import load_adapter, packaged_adapter

pytestmark = pytest.mark.model


@pytest.fixture()
def shared_classifier(classifier, monkeypatch: pytest.MonkeyPatch):
    """Reuse the session's classifier instead of loading the model again for every command."""
    monkeypatch.setattr(commands, "_classifier", lambda config_path, adapter: classifier)
    return classifier


def _write_csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


SENTIMENT_ROWS = [
    ("I hate this phone, it broke after two days", 0),
    ("Worst airline ever, lost my bag again", 0),
    ("The meeting is on Tuesday at 3pm", 1),
    ("The store opens at 9 tomorrow", 1),
    ("Love the new update, works perfectly!", 2),
    ("Great service today, thank you so much", 2),
]


def test_classify_json_lines(shared_classifier, tmp_path: Path) -> None:
    file = tmp_path / "texts.txt"
    file.write_text("注文した商品が届きません\n\n", encoding="utf-8")
    result = CliRunner().invoke(commands.classify_command, ["great job, thanks!", "--file", str(file), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["text"] for line in lines] == ["great job, thanks!", "注文した商品が届きません", ""]
    assert lines[0]["scored"] and lines[0]["sentiment"] in {"negative", "neutral", "positive"}
    assert lines[1]["language"] == "ja"
    assert lines[2]["scored"] is False and lines[2]["unscored_reason"] == "empty"
    assert set(lines[0]) >= {"model_id", "p_negative", "p_neutral", "p_positive", "complaint", "p_complaint"}


def test_classify_without_text_is_a_usage_error() -> None:
    result = CliRunner().invoke(commands.classify_command, [])
    assert result.exit_code == 2


def test_eval_prints_metrics(shared_classifier, tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "s.csv", SENTIMENT_ROWS + [("", 1), ("not a label", 7)])
    result = CliRunner().invoke(commands.model_group, ["eval", "--task", "sentiment", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n"] == len(SENTIMENT_ROWS)  # the two bad rows are skipped with a warning
    assert set(report["per_class"]) == {"negative", "neutral", "positive"}
    assert 0.0 <= report["macro_recall"] <= 1.0
    assert report["accuracy"] >= 4 / 6  # easy, unambiguous texts
    text = CliRunner().invoke(commands.model_group, ["eval", "--task", "sentiment", "--data", str(data)])
    assert text.exit_code == 0
    assert "macro_recall" in text.output and "negative" in text.output


def test_train_one_step_writes_a_loadable_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from listener.corrections import save_correction

    db = tmp_path / "corr.db"
    save_correction(db, "the courier threw my parcel over the fence", 0, 1)
    data = _write_csv(tmp_path / "c.csv", [("my refund never came", 1), ("nice weather today", 0)])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        commands.model_group,
        ["train", "--task", "complaint", "--data", str(data), "--val", str(data), "--include-corrections",
         "--db", str(db), "--out", str(out), "--max-steps", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "1 corrections included" in result.output
    state, config, version = load_adapter(out / "adapter.safetensors")
    base_state, base_config, base_version = load_adapter(packaged_adapter())
    assert config == base_config and version == f"{base_version}+complaint-ft"
    reply_head = {"needs_reply_head.weight", "needs_reply_head.bias"}
    assert set(state) == set(base_state) | reply_head  # an adapter without the needs-reply head gains one
    # One optimizer step moved the complaint head away from the packaged one.
    assert not (state["complaint_head.weight"] == base_state["complaint_head.weight"]).all()
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert metrics["n"] == 2


def test_eval_on_the_corpus_breaks_down_by_language_and_kind(shared_classifier, tmp_path: Path) -> None:
    from models.mentions import MENTIONS_DIR

    rows = (MENTIONS_DIR / "val.csv").read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    picked = [body[i] for i in range(0, len(body), len(body) // 40)]  # ~40 rows across languages and kinds
    data = tmp_path / "mentions.csv"
    data.write_text("\n".join([header, *picked]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(commands.model_group, ["eval", "--task", "complaint", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "confusion" in result.output and "praise→complaint" in result.output
    for language in ("en", "ja", "ko"):
        assert f"\n{language} " in result.output
    as_json = CliRunner().invoke(commands.model_group, ["eval", "--task", "complaint", "--data", str(data), "--json"])
    report = json.loads(as_json.output)
    assert report["n"] == len(picked)
    assert set(report["breakdown"]["language"]) >= {"en", "ja"}
    assert sum(map(sum, report["confusion"])) == len(picked)


def _corpus_sample(tmp_path: Path, rows: int = 40) -> tuple[Path, int]:
    from models.mentions import MENTIONS_DIR

    lines = (MENTIONS_DIR / "val.csv").read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    picked = [body[i] for i in range(0, len(body), len(body) // rows)]
    data = tmp_path / "mentions.csv"
    data.write_text("\n".join([header, *picked]) + "\n", encoding="utf-8")
    return data, len(picked)


def test_eval_reports_needs_reply_on_both_runtimes(
    torch_fp32, onnx_classifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, n = _corpus_sample(tmp_path)
    reports = {}
    for runtime, model in (("torch", torch_fp32), ("onnx", onnx_classifier)):
        monkeypatch.setattr(commands, "_classifier", lambda config_path, adapter, model=model: model)
        args = ["eval", "--task", "needs-reply", "--data", str(data)]
        result = CliRunner().invoke(commands.model_group, [*args, "--json"])
        assert result.exit_code == 0, f"{runtime}: {result.output}"
        reports[runtime] = json.loads(result.output)
        text = CliRunner().invoke(commands.model_group, args)
        assert text.exit_code == 0 and "needs_reply" in text.output and "confusion" in text.output
        assert "needs_reply P" in text.output and "\nja " in text.output  # the per-language table
    for report in reports.values():
        assert report["task"] == "needs-reply" and report["n"] == n and report["skipped"] == 0
        assert set(report["per_class"]) == {"no_reply", "needs_reply"}
        assert report["per_class"]["needs_reply"]["support"] > 0 and report["per_class"]["no_reply"]["support"] > 0
        assert report["macro_f1"] > 0.5  # better than always answering one class (macro F1 <= 0.5)
        languages = report["breakdown"]["language"]
        assert len(languages) > 1 and sum(block["n"] for block in languages.values()) == n
    # The same weights give the same answers whichever runtime serves them.
    assert reports["torch"]["confusion"] == reports["onnx"]["confusion"]


def test_eval_needs_reply_wants_the_corpus_and_a_model_with_the_head(tmp_path: Path, monkeypatch) -> None:
    from models.base import Classification

    class NoReplyHead:
        model_id = "old-adapter"

        def predict(self, texts):
            return [Classification(model_id=self.model_id, scored=True, p_complaint=0.1) for _ in texts]

    monkeypatch.setattr(commands, "_classifier", lambda config_path, adapter: NoReplyHead())
    plain = _write_csv(tmp_path / "s.csv", SENTIMENT_ROWS)
    result = CliRunner().invoke(commands.model_group, ["eval", "--task", "needs-reply", "--data", str(plain)])
    assert result.exit_code == 2 and "needs_reply column" in result.output
    data, _ = _corpus_sample(tmp_path, rows=5)
    result = CliRunner().invoke(commands.model_group, ["eval", "--task", "needs-reply", "--data", str(data)])
    assert result.exit_code == 1 and "old-adapter has no needs-reply output" in result.output
