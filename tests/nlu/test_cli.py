"""`python -m nlu train | parse | evaluate` as a user runs them (contract §4), in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlu.__main__ import main

REPO = Path(__file__).resolve().parents[2]
TINY = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - halo
    - hai min
    - pagi kak
    - permisi
- intent: ask_jkk
  examples: |
    - apa itu jkk
    - klo kecelakaan kerja dapat apa
    - jkk nanggung apa aja
    - manfaat jkk apa
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # The session's shared model cache: the real model is trained at most once per test run.
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("NLU_", "RASA_"))}
    return {**keep, "NLU_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "nlu-cache")}


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlu", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_train_then_parse_the_contract_example(env: dict[str, str]) -> None:
    trained = run(env, "train")
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["examples"] > 0 and summary["intents"] == 27
    assert Path(summary["cache"]).is_dir()

    lines = ["iuran brp klo gaji 2jt", "halo min", "", "/ask_jkk", "kartu sy msh aktif?"]
    parsed = run(env, "parse", stdin="\n".join(lines) + "\n")
    assert parsed.returncode == 0, parsed.stderr
    outputs = [json.loads(x) for x in parsed.stdout.splitlines()]
    assert [o["text"] for o in outputs] == lines  # one JSON line per input line, in order
    assert outputs[0]["intent"]["name"] == "ask_contribution"
    assert [(e["entity"], e["value"]) for e in outputs[0]["entities"]] == [("amount", 2000000)]
    assert outputs[3]["intent"] == {"name": "ask_jkk", "confidence": 1.0}


def test_train_reuses_the_cached_model_unless_forced(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "train")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["from_cache"] is True

    data = tmp_path / "tiny.yml"
    data.write_text(TINY, encoding="utf-8")
    forced = [json.loads(run(env, "train", "--force", "--data", str(data)).stdout) for _ in range(2)]
    assert [f["from_cache"] for f in forced] == [False, False]
    assert forced[0]["examples"] == 8 and forced[0]["cache"] == forced[1]["cache"]


def test_evaluate_a_test_file(env: dict[str, str]) -> None:
    result = run(env, "evaluate", str(REPO / "tests" / "data" / "nlu_test.yml"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "per_intent", "errors", "confusion", "thresholds"} <= report.keys()
    assert set(report["per_intent"]["greet"]) == {"precision", "recall", "f1", "support"}
    assert 0.0 <= report["accuracy"] <= 1.0
    assert len(report["errors"]) == sum(c["count"] for c in report["confusion"])


def test_cross_validation_on_given_data_with_threshold_and_margin(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "tiny.yml"
    data.write_text(TINY, encoding="utf-8")
    result = run(
        env, "evaluate", "--folds", "2", "--data", str(data), "--threshold", "0.2", "--margin", "0.05"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["folds"] == 2 and report["examples"] == 8
    assert (report["threshold"], report["margin"]) == (0.2, 0.05)
    assert set(report["per_intent"]) >= {"greet", "ask_jkk"}


@pytest.mark.parametrize("args", [("evaluate",), ("evaluate", "--folds", "1"), ("nonsense",)])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    # in-process: a usage error never gets as far as loading a model
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2
    assert result.stdout == ""
