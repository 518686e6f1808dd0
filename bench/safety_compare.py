"""Compare safety models on the dev split (never the test split): figures, cost and size.

Candidates: the lexicon alone; the n-gram logistic model; a WordLlama sentence embedding (its
16 MB weights ship in its wheel) with a logistic layer; and each model combined with the lexicon.
Every model learns from the train split only and is scored on dev, at thresholds swept on dev.

Run: python bench/safety_compare.py [--wordllama]   (needs scikit-learn; wordllama if asked)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuroseq_core.safety.evaluate import Tally  # noqa: E402
from neuroseq_core.safety.examples import load_examples  # noqa: E402
from neuroseq_core.safety.lexicon import LexiconScreen  # noqa: E402
from neuroseq_core.safety.screen import SafetyScreen, ScreenConfig, Verdict  # noqa: E402
from neuroseq_core.safety.train import fit  # noqa: E402
from neuroseq_core.safety.words import CATEGORIES  # noqa: E402

CONTENT = ROOT / "content"


def _tally(verdicts: list[Verdict], labels: list[list[str]]) -> Tally:
    t = Tally()
    for v, y in zip(verdicts, labels, strict=True):
        t.add(y, v)
    return t


def _line(name: str, t: Tally, ms: float, extra: str = "") -> str:
    return (
        f"{name:<44} recall {t.recall:.3f}  right {t.right_rate:.3f}  hardFP {t.hard_rate:.3f}  "
        f"softFP {t.soft_rate:.3f}  {ms:6.2f} ms/msg {extra}"
    )


def _wordllama():  # type: ignore[no-untyped-def]
    import wordllama
    from safetensors import safe_open
    from wordllama.inference import WordLlamaInference
    from wordllama.wordllama import WordLlama

    # Its loader looks for the tokenizer in the wrong folder and then downloads: load the
    # packaged files explicitly.
    pkg = Path(wordllama.__file__).parent
    tok = WordLlama.load_tokenizer(pkg / "tokenizers" / "l2_supercat_tokenizer_config.json")
    with safe_open(str(pkg / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
        emb = f.get_tensor("embedding.weight")
    return WordLlamaInference(emb, tok)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wordllama", action="store_true")
    args = ap.parse_args()
    errors: list = []
    examples = load_examples(CONTENT, errors)
    train = [e.example for e in examples if e.split == "train"]
    dev = [e.example for e in examples if e.split == "dev"]
    labels = [list(e.labels) for e in dev]
    print(f"train {len(train)}  dev {len(dev)} (test split not read)")
    lexicon, _ = LexiconScreen.load(CONTENT)

    t0 = time.perf_counter()
    lex_only = [Verdict("clear", (c,)) if (c := lexicon.screen(e.text)) else Verdict() for e in dev]
    print(_line("lexicon alone", _tally(lex_only, labels), (time.perf_counter() - t0) * 1000 / len(dev)))

    t0 = time.perf_counter()
    model = fit(train)
    print(f"n-gram model: trained in {time.perf_counter() - t0:.1f} s, {len(model.terms)} features")
    for cfg in _grid():
        for use_lex in (False, True):
            screen = SafetyScreen(lexicon if use_lex else _NoLexicon(), model, cfg)
            t0 = time.perf_counter()
            verdicts = [screen.verdict(e.text) for e in dev]
            ms = (time.perf_counter() - t0) * 1000 / len(dev)
            name = f"n-gram{' + lexicon' if use_lex else ''} clear>={cfg.clear} check>={cfg.check}"
            print(_line(name, _tally(verdicts, labels), ms))

    if args.wordllama:
        from sklearn.linear_model import LogisticRegression

        t0 = time.perf_counter()
        wl = _wordllama()
        print(f"wordllama loaded in {time.perf_counter() - t0:.2f} s")
        xtr = wl.embed([e.text for e in train], norm=True)
        t0 = time.perf_counter()
        xdev = wl.embed([e.text for e in dev], norm=True)
        ms = (time.perf_counter() - t0) * 1000 / len(dev)
        probs = np.zeros((len(dev), len(CATEGORIES)))
        for j, category in enumerate(CATEGORIES):
            y = [category in e.labels for e in train]
            clf = LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000).fit(xtr, y)
            probs[:, j] = clf.predict_proba(xdev)[:, 1]
        for cfg in _grid():
            for use_lex in (False, True):
                verdicts = []
                for i, e in enumerate(dev):
                    lex = lexicon.screen(e.text) if use_lex else None
                    top = int(np.argmax(probs[i]))
                    p = probs[i, top]
                    tier = "clear" if lex or p >= cfg.clear else ("check" if p >= cfg.check else None)
                    lead = lex or CATEGORIES[top]
                    verdicts.append(Verdict(tier, (lead,)) if tier else Verdict())
                name = f"wordllama{' + lexicon' if use_lex else ''} clear>={cfg.clear} check>={cfg.check}"
                print(_line(name, _tally(verdicts, labels), ms))
    return 0


class _NoLexicon(LexiconScreen):
    def __init__(self) -> None:
        pass

    def screen(self, text: str) -> str | None:
        return None

    def poisoning(self, text: str) -> bool:
        return False


def _grid() -> list[ScreenConfig]:
    return [
        ScreenConfig(clear=clear, check=check)
        for clear in (0.5, 0.6, 0.7, 0.8)
        for check in (0.15, 0.2, 0.3, 0.4)
        if check < clear
    ]


if __name__ == "__main__":
    raise SystemExit(main())
