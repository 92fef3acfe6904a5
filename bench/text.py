"""Text benchmark: how long the reader takes on real bulletins, with and without a commune lexicon and --explain.

Run: .venv/bin/python bench/text.py   (writes bench/results/text.json)

Times are CPU time of this process (``time.process_time``), so a busy shared machine inflates them
less than wall time would. Measured: the 480-character sample bulletin, every sentence of the
corpus (tests/text/corpus), a 20,000-character bulletin (the limit), ``explain`` (what the compose
and approval pages run for "Máy sẽ đọc là"), and compiling a commune's lexicon of 200 entries.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "text"))

from text_cases import load_corpus  # noqa: E402

from bench.results_file import write_results  # noqa: E402
from broadcaster.text import load_lexicon, normalize  # noqa: E402
from broadcaster.text.explain import explain  # noqa: E402
from broadcaster.text.throughput import SAMPLE_BULLETIN  # noqa: E402

ROUNDS = 5


def cpu_ms(work: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The median CPU milliseconds of ``work`` over ``rounds`` runs (after one warm-up)."""
    work()
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Measure and write bench/results/text.json."""
    lexicon = load_lexicon()
    corpus = [case.text for case in load_corpus()]
    longest = (SAMPLE_BULLETIN + " ") * (20_000 // (len(SAMPLE_BULLETIN) + 1))
    commune = {f"Thôn {i} Mới": f"thôn {i} mới" for i in range(200)}
    sample_ms = cpu_ms(lambda: normalize(SAMPLE_BULLETIN, lexicon))
    corpus_ms = cpu_ms(lambda: [normalize(text, lexicon) for text in corpus], rounds=3)
    overlay = lexicon.with_entries(commune, "bench")
    results = {
        "sample_bulletin_chars": len(SAMPLE_BULLETIN),
        "sample_bulletin_cpu_ms": round(sample_ms, 2),
        "chars_per_cpu_s": round(len(SAMPLE_BULLETIN) / sample_ms * 1000),
        "corpus_sentences": len(corpus),
        "corpus_cpu_ms_per_sentence": round(corpus_ms / len(corpus), 3),
        "limit_bulletin_chars": len(longest),
        "limit_bulletin_cpu_ms": round(cpu_ms(lambda: normalize(longest, lexicon), rounds=3), 1),
        "explain_sample_cpu_ms": round(cpu_ms(lambda: explain(SAMPLE_BULLETIN, lexicon)), 2),
        "explain_limit_cpu_ms": round(cpu_ms(lambda: explain(longest, lexicon), rounds=3), 1),
        "commune_lexicon_200_entries_compile_cpu_ms": round(cpu_ms(lambda: lexicon.with_entries(commune, "bench")), 2),
        "sample_with_commune_lexicon_cpu_ms": round(cpu_ms(lambda: normalize(SAMPLE_BULLETIN, overlay)), 2),
        "builtin_lexicon_entries": len(lexicon),
        "rounds": ROUNDS,
    }
    write_results("text", results)


if __name__ == "__main__":
    main()
