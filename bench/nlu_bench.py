"""Benchmark of the built-in NLU: training time, model load time, parse latency, throughput, peak RSS.

    python bench/nlu_bench.py [--parses 5000] [--cpu 0]

Everything runs pinned to one CPU with one BLAS thread, as the targets are stated for one core
(parse p99 <= 5 ms, training <= 30 s, model load < 1 s). The workload is every message of nlu/data and
tests/data/nlu_test.yml, parsed round-robin. Prints its figures (and one JSON line); asserts nothing.
On a shared machine the tail figures include time the process waited for the CPU; see `cpu_share`.
"""

from __future__ import annotations

import os

# Before numpy loads: one thread, so the figures are per core and BLAS does not fight the parse.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nlu import training_data  # noqa: E402
from nlu.classifier import IntentClassifier  # noqa: E402
from nlu.parser import BuiltinNLU, prepare  # noqa: E402

LOAD_SNIPPET = """
import os, sys, time
from pathlib import Path
os.sched_setaffinity(0, {{{cpu}}})
started = time.perf_counter()
from nlu.parser import BuiltinNLU
nlu = BuiltinNLU(cache_dir=Path(sys.argv[1]))
nlu.train()
loaded = time.perf_counter()
nlu.parse("iuran brp klo gaji 2jt")
first = time.perf_counter()
assert nlu.last_load_from_cache, "expected a cached model"
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(loaded - started, first - started, hwm)
"""


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1e3, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parses", type=int, default=5000, help="timed parses (after a warm-up)")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    figures: dict[str, object] = {}

    with tempfile.TemporaryDirectory(prefix="nlu-bench-") as cache:
        # training: from the data files to a stored model, as the first use after a data change does
        started, cpu_started = time.perf_counter(), time.process_time()
        nlu = BuiltinNLU(cache_dir=Path(cache))
        model = nlu.train()
        figures["train_s"] = round(time.perf_counter() - started, 2)
        figures["train_cpu_s"] = round(time.process_time() - cpu_started, 2)
        figures["examples"] = len(training_data.load(*nlu.data_paths).examples)
        figures["intents"] = len(model.labels)

        # load: the stored model alone, then a fresh process from start to its first parse
        started = time.perf_counter()
        IntentClassifier.load(nlu.cache.path(nlu.cache_key()))
        figures["model_load_s"] = round(time.perf_counter() - started, 3)
        out = subprocess.run(
            [sys.executable, "-c", LOAD_SNIPPET.format(cpu=args.cpu), cache],
            capture_output=True, text=True, check=True, cwd=REPO,
        )  # fmt: skip
        loaded, first_parse, child_rss = out.stdout.split()
        figures["fresh_process_load_s"] = round(float(loaded), 3)
        figures["fresh_process_first_parse_s"] = round(float(first_parse), 3)
        figures["fresh_process_peak_rss_mb"] = round(int(child_rss) / 1024, 1)

        # latency: one message at a time, in-process
        texts = [e.text for e in training_data.load(*nlu.data_paths).examples]
        held_out = REPO / "tests" / "data" / "nlu_test.yml"
        if held_out.exists():
            texts += [e.text for e in training_data.load(held_out).examples]
        for text in texts[:500]:  # warm-up: caches, allocator, branch predictors
            nlu.parse(text)
        samples: list[float] = []
        cpu_samples: list[float] = []
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.parses):
            text = texts[i % len(texts)]
            t0, c0 = time.perf_counter(), time.thread_time()
            nlu.parse(text)
            samples.append(time.perf_counter() - t0)
            cpu_samples.append(time.thread_time() - c0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        figures.update(
            parses=args.parses,
            parse_p50_ms=percentile_ms(samples, 50),
            parse_p90_ms=percentile_ms(samples, 90),
            parse_p99_ms=percentile_ms(samples, 99),
            parse_max_ms=round(max(samples) * 1e3, 3),
            # CPU time of the parsing thread: the latency without the waits of a shared machine
            parse_cpu_p50_ms=percentile_ms(cpu_samples, 50),
            parse_cpu_p99_ms=percentile_ms(cpu_samples, 99),
            messages_per_s=round(args.parses / wall),
            cpu_share=round(cpu / wall, 2),  # below 1: the process waited for the CPU (a busy machine)
        )

        # where a parse's time goes: preparation (normalize + entities) against classification
        sample = texts[: min(len(texts), 2000)]
        t0 = time.perf_counter()
        prepared = [prepare(t)[0] for t in sample]
        t1 = time.perf_counter()
        for message in prepared:
            model.predict(message)
        t2 = time.perf_counter()
        figures["prepare_mean_ms"] = round((t1 - t0) / len(sample) * 1e3, 3)
        figures["classify_mean_ms"] = round((t2 - t1) / len(sample) * 1e3, 3)

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
