"""`python -m nlu train | parse | evaluate` (contract §4).

- `train`: load the cached model for the current data, or train it now; prints a JSON summary.
- `parse`: one message per stdin line → one parse JSON (contract §3) per stdout line.
- `evaluate FILE.yml`: a Rasa-format test file → the JSON report of `nlu.evaluate` on stdout;
  `evaluate --folds K`: k-fold cross-validation over the training data instead.

Settings (NLU_BACKEND, RASA_URL, NLU_CACHE_DIR, NLU_THRESHOLD, NLU_MARGIN) come from the environment and
`.env`; logs go to stderr, so stdout carries only JSON.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from bot.logs import configure_logging
from bot.settings import Settings, load_settings
from nlu import training_data
from nlu.parser import DATA_DIR, NLU, BuiltinNLU

_DATA_OPTION = click.option(
    "--data",
    "data_paths",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="Training data files or directories (default: the project's nlu/data).",
)


def _settings(threshold: float | None = None, margin: float | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if threshold is not None:
        overrides["nlu_threshold"] = threshold
    if margin is not None:
        overrides["nlu_margin"] = margin
    return load_settings(**overrides)


def _builtin(settings: Settings, data_paths: tuple[Path, ...]) -> BuiltinNLU:
    return BuiltinNLU(
        data_paths=data_paths or (DATA_DIR,),
        cache_dir=settings.nlu_cache_dir,
        threshold=settings.nlu_threshold,
        margin=settings.nlu_margin,
    )


def _nlu(settings: Settings, data_paths: tuple[Path, ...]) -> NLU:
    if data_paths:  # explicit data means the built-in model trained on it
        return NLU(_builtin(settings, data_paths))
    return NLU.from_settings(settings)


def _emit(obj: Any, indent: int | None = None) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=indent))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """The Indonesian NLU of jamsosbot."""
    configure_logging(logging.DEBUG if verbose else logging.WARNING)


@main.command()
@click.option("--force", is_flag=True, help="Train even when the cache holds a model for the current data.")
@_DATA_OPTION
def train(force: bool, data_paths: tuple[Path, ...]) -> None:
    """Train the built-in model from the project's data (or load it from the cache when current)."""
    builtin = _builtin(_settings(), data_paths)
    started = time.perf_counter()
    model = builtin.train(force=force)
    examples = training_data.load(*builtin.data_paths).examples
    _emit(
        {
            "examples": len(examples),
            "intents": len(model.labels),
            "from_cache": builtin.last_load_from_cache,
            "seconds": round(time.perf_counter() - started, 3),
            "temperature": round(model.temperature, 4),
            "cache": str(builtin.cache.path(builtin.cache_key())),
        }
    )


@main.command()
@_DATA_OPTION
def parse(data_paths: tuple[Path, ...]) -> None:
    """Parse one message per stdin line; print one JSON per line."""
    nlu = _nlu(_settings(), data_paths)
    try:
        for line in sys.stdin:
            _emit(nlu.parse(line.rstrip("\r\n")))
            sys.stdout.flush()  # answer each line at once when used as a pipe
    finally:
        nlu.close()


@main.command()
@click.argument("file", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--folds", type=click.IntRange(min=2), help="k-fold cross-validation over the training data.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Confidence below which: out_of_scope.")
@click.option("--margin", type=click.FloatRange(0, 1), help="Top-2 gap below which: ambiguous.")
@click.option("--seed", type=int, default=0, show_default=True, help="Fold shuffling seed.")
@_DATA_OPTION
def evaluate(
    file: Path | None,
    folds: int | None,
    threshold: float | None,
    margin: float | None,
    seed: int,
    data_paths: tuple[Path, ...],
) -> None:
    """Evaluate on a Rasa-format test FILE, or cross-validate with --folds K. Prints a JSON report."""
    from nlu.evaluate import cross_validate, evaluate

    if (file is None) == (folds is None):
        raise click.UsageError("give either a test FILE or --folds K")
    settings = _settings(threshold, margin)
    if folds is not None:
        examples = training_data.load(*(data_paths or (DATA_DIR,))).examples
        result = cross_validate(examples, folds, seed, settings.nlu_threshold, settings.nlu_margin)
    else:
        assert file is not None
        examples = training_data.load(file).examples
        if not examples:
            raise click.UsageError(f"{file} holds no intent examples")
        nlu = _nlu(settings, data_paths)
        try:
            result = evaluate(nlu.parse, examples, settings.nlu_threshold, settings.nlu_margin)
        finally:
            nlu.close()
    _emit(result, indent=2)


if __name__ == "__main__":
    main(prog_name="python -m nlu")
