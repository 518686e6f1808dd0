"""Add later batches of labelled safety messages to train and dev, never to the frozen test split.

A new message is dropped when it is a near-duplicate (character n-gram cosine >= 0.92) of any
message already in the corpus, or alike (>= 0.6) to any test message: a close neighbour of a test
message in train would flatter the test figures. The rest go 80/20 to train/dev, per batch,
stratified by (language, category, hard/plain), alike messages together.

Run: python bench/safety_add.py BATCH.yaml [BATCH.yaml ...]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safety_split import DROP_AT, GROUP_AT, _groups, _load, _row  # noqa: E402

from neuroseq_core.safety.examples import load_examples  # noqa: E402
from neuroseq_core.safety.words import normalise  # noqa: E402

SHARES = {"train": 0.8, "dev": 0.2}
EXAMPLES = ROOT / "content" / "safety" / "examples"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("batches", nargs="+", type=Path)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    existing = load_examples(ROOT / "content", [])
    items = [item for path in args.batches for item in _load(path, path.stem)]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vec.fit([normalise(e.example.text) for e in existing] + [normalise(e.text) for e, _ in items])
    new = vec.transform([normalise(e.text) for e, _ in items])
    old = vec.transform([normalise(e.example.text) for e in existing])
    sim = (new @ old.T).tocsr()
    is_test = [e.split == "test" for e in existing]
    keep: list[int] = []
    for i in range(len(items)):
        row = sim.getrow(i)
        near_any = any(v >= DROP_AT for v in row.data)
        near_test = any(v >= GROUP_AT and is_test[j] for j, v in zip(row.indices, row.data, strict=True))
        if not (near_any or near_test):
            keep.append(i)
    print(
        f"{len(items)} new messages, {len(items) - len(keep)} dropped as close to the corpus or a test message"
    )
    kept = [items[i] for i in keep]
    groups, drop = _groups([e.text for e, _ in kept])
    rng = random.Random(args.seed)
    by_group: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        if not drop[i]:
            by_group[g].append(i)
    order = list(by_group.values())
    rng.shuffle(order)
    counts: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(SHARES, 0))
    out: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for members in order:
        ex, source = kept[members[0]]
        key = (source, ex.lang, ex.labels[0] if ex.labels else "none", "hard" if ex.hard else "plain")
        have = counts[key]
        total = sum(have.values()) + len(members)
        split = max(SHARES, key=lambda s: SHARES[s] * total - have[s])
        have[split] += len(members)
        for i in members:
            out[(split, kept[i][1])].append(_row(kept[i][0]))
    for (split, source), rows in sorted(out.items()):
        head = f"# {split} split, from batch '{source}' (added after the split; never in test). See docs/safety.md.\n"
        body = yaml.safe_dump({"examples": rows}, allow_unicode=True, sort_keys=False, width=100)
        (EXAMPLES / split / f"{source}.yaml").write_text(head + body, encoding="utf-8")
        print(split, source, len(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
