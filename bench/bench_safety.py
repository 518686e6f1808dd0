"""Benchmark the safety screen (lexicon + learned model): 100- and 4,096-character messages.

Budgets (worst p99 over the sample texts): 2 ms for 100 characters (a typical message; a tenth of
the 20 ms per-update budget) and 10 ms for 4,096 characters (Telegram's longest).

Run: python bench/bench_safety.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project from this tree, installed or not

from neuroseq_core.safety import SafetyScreen, normalise  # noqa: E402

BUDGET_MS = {100: 2.0, 4096: 10.0}  # message length -> p99 budget in ms
# Ordinary messages (the common case: every lexicon runs to the end) in both languages, and one
# full of near-misses that make the screen check negations and exceptions again and again.
SAMPLES = {
    "en ordinary": "My son is seven and mornings are hard: he screams when we put his shoes on, hides under "
    "the table and says he hates school. The teacher says he can't sit still at carpet time. ",
    "es ordinary": "Mi hija tiene siete años y las mañanas le cuestan muchísimo; grita cuando le ponemos los "
    "zapatos, se esconde debajo de la mesa y dice que odia el cole. ¿Qué podemos hacer? ",
    "en near-misses": "He's not suicidal, just tired. No one is hurting him. The film was to die for and she "
    "is killing it at school; he hit the ball so hard. I could murder a coffee. ",
}


def _text(sample: str, size: int) -> str:
    return (sample * (size // len(sample) + 1))[:size]


def _measure(screen: SafetyScreen, text: str, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        normalise.cache_clear()  # every real message is new: no folding from the last run
        start = time.perf_counter()
        screen.verdict(text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> int:
    """Print median and p99 per message kind and size; exit 1 if a size's worst p99 is over budget."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    screen, errors = SafetyScreen.load(ROOT / "content")
    load_ms = (time.perf_counter() - start) * 1000
    if any(not e.warning for e in errors):
        print("\n".join(str(e) for e in errors))
        return 2
    print(f"lexicons and model loaded in {load_ms:.1f} ms")
    worst = dict.fromkeys(BUDGET_MS, 0.0)
    for name, sample in SAMPLES.items():
        for size in BUDGET_MS:
            median, p99 = _measure(screen, _text(sample, size), args.runs)
            print(f"{name:<16} {size:>5} chars  median {median:6.3f} ms  p99 {p99:6.3f} ms")
            worst[size] = max(worst[size], p99)
    ok = True
    for size, budget in BUDGET_MS.items():
        good = worst[size] < budget
        ok &= good
        print(
            f"{'PASS' if good else 'FAIL'}: worst p99 at {size:,} characters {worst[size]:.3f} ms "
            f"(budget {budget:g} ms)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
