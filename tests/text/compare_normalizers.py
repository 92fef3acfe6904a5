"""Score sea-g2p, g2p-hamster and broadcaster.text on cases.tsv and on the corpus; print Markdown.

Run: ``.venv/bin/python tests/text/compare_normalizers.py [cases|corpus]`` (not a test: it prints
numbers for docs/text-normalization.md). Libraries missing from the environment are skipped;
sea-g2p is not a dependency of the project, so install it beside it to compare
(``pip install sea-g2p==0.10.0`` in a scratch virtualenv with ``pip install -e .``).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable

from text_cases import Case, lenient_match, load_cases, load_corpus


def _hamster() -> Callable[[str], str]:
    from g2p_hamster.t0.pipeline import normalize

    return lambda text: normalize(text)["read_string"]


def _sea() -> Callable[[str], str]:
    from sea_g2p import Normalizer

    normalizer = Normalizer(lang="vi")
    return lambda text: normalizer.normalize(text)


def _ours() -> Callable[[str], str]:
    from broadcaster.text import normalize

    return normalize


def score(name: str, factory: Callable[[], Callable[[str], str]], cases: list[Case]) -> dict:
    """Run one normalizer over the table and collect hits, misses and speed."""
    started = time.perf_counter()
    run = factory()
    load_seconds = time.perf_counter() - started
    outputs: list[str] = []
    started = time.perf_counter()
    for case in cases:
        outputs.append(run(case.text))
    seconds = time.perf_counter() - started
    from broadcaster.text.throughput import SAMPLE_BULLETIN

    started = time.perf_counter()
    for _ in range(20):
        run(SAMPLE_BULLETIN)
    bulletin_ms = (time.perf_counter() - started) / 20 * 1000
    per_category: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    misses: list[tuple[Case, str]] = []
    for case, output in zip(cases, outputs, strict=True):
        counts = per_category[case.category]
        counts[2] += 1
        counts[1] += output == case.expected
        if lenient_match(case, output):
            counts[0] += 1
        else:
            misses.append((case, output))
    return {
        "name": name, "load": load_seconds, "seconds": seconds, "bulletin_ms": bulletin_ms,
        "cats": per_category, "misses": misses,
    }


def main() -> int:
    """Print the comparison report."""
    which = sys.argv[1] if len(sys.argv) > 1 else "cases"
    cases = load_corpus() if which == "corpus" else load_cases()
    contenders = [("g2p-hamster 0.2.8", _hamster), ("sea-g2p 0.10.0", _sea), ("broadcaster.text", _ours)]
    results = []
    for name, factory in contenders:
        try:
            results.append(score(name, factory, cases))
        except ImportError as error:
            print(f"skipped {name}: {error}", file=sys.stderr)
    categories = sorted({case.category for case in cases})
    print("| category | cases | " + " | ".join(r["name"] for r in results) + " |")
    print("|---|---:|" + "---:|" * len(results))
    for category in [*categories, "ALL"]:
        cells = []
        total = 0
        for r in results:
            if category == "ALL":
                hit = sum(c[0] for c in r["cats"].values())
                total = sum(c[2] for c in r["cats"].values())
            else:
                hit, _, total = r["cats"][category]
            cells.append(f"{hit} ({100 * hit / total:.0f} %)")
        label = f"**{category}**" if category == "ALL" else category
        print(f"| {label} | {total} | " + " | ".join(cells) + " |")
    print()
    from broadcaster.text.throughput import SAMPLE_BULLETIN

    for r in results:
        strict = sum(c[1] for c in r["cats"].values())
        per_case_ms = 1000 * r["seconds"] / len(cases)
        print(
            f"- {r['name']}: load {r['load']:.2f} s, {per_case_ms:.2f} ms per case, "
            f"{r['bulletin_ms']:.1f} ms per {len(SAMPLE_BULLETIN)}-character sample bulletin, "
            f"exact {strict}/{len(cases)}"
        )
    for r in results:
        print(f"\n### Misses of {r['name']} ({len(r['misses'])})\n")
        for case, output in r["misses"]:
            print(f"- [{case.category}] `{case.text}` -> `{output}` (want `{case.expected}`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
