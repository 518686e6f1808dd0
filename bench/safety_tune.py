"""Sweep the safety screen's thresholds on the dev split (model trained on train only).

Prints, for each C and threshold set, recall, right-category rate and false positives on dev, and
marks the rows that meet the targets (recall >= 0.95, hard FP <= 0.05, all FP <= 0.20). The test
split is never read. Run: python bench/safety_tune.py
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neuroseq_core.content  # noqa: E402, F401
from neuroseq_core.safety.evaluate import evaluate  # noqa: E402
from neuroseq_core.safety.examples import load_examples  # noqa: E402
from neuroseq_core.safety.lexicon import LexiconScreen  # noqa: E402
from neuroseq_core.safety.screen import SafetyScreen, ScreenConfig  # noqa: E402
from neuroseq_core.safety.train import fit  # noqa: E402


def main() -> int:
    examples = load_examples(ROOT / "content", [])
    train = [e.example for e in examples if e.split == "train"]
    dev = [e for e in examples if e.split == "dev"]
    lexicon, _ = LexiconScreen.load(ROOT / "content")
    print(f"train {len(train)}, dev {len(dev)}")
    for c in (8.0,):
        model = fit(train, c=c)
        grid = itertools.product((0.9,), (0.265, 0.27, 0.275), (0.5,))
        for clear, check, lexicon_clear in grid:
            cfg = ScreenConfig(c=c, clear=clear, check=check, lexicon_clear=lexicon_clear)
            t = evaluate(SafetyScreen(lexicon, model, cfg), dev)
            overall = t[("all", "all")]
            worst = min(t[(lang, "all")].recall for lang in ("en", "es"))
            cats = min(
                v.recall
                for (lang, name), v in t.items()
                if lang == "all" and name not in ("all",) and v.danger
            )
            allfp = overall.hard_rate + overall.soft_rate
            ok = (
                overall.recall >= 0.95
                and worst >= 0.9
                and cats >= 0.9
                and overall.hard_rate <= 0.05
                and allfp <= 0.2
            )
            print(
                f"C={c:<4} clear={clear} check={check} lex={lexicon_clear}: recall {overall.recall:.3f} "
                f"(worst lang {worst:.3f}, worst category {cats:.3f}) right {overall.right_rate:.3f} "
                f"hard {overall.hard_rate:.3f} all {allfp:.3f}{'  OK' if ok else ''}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
