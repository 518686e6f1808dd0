"""One-time tool: split batches of labelled safety messages into train / dev / frozen test.

Used once to build content/safety/examples/ from batches written apart from the project (each
from its own brief). Near-duplicates (character n-gram cosine >= 0.92) are removed; messages that
are alike (>= 0.6) stay together in one split; every (language, category, hard/plain) stratum is
split 60/20/20. New examples written later go straight into train/; the test split is frozen.

Run: python bench/safety_split.py OUT_DIR BATCH.yaml [BATCH.yaml ...] [--train-dev-only F.yaml ...]
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

import neuroseq_core.content  # noqa: E402, F401  (first: the safety package and content import each other)
from neuroseq_core.safety.examples import Example  # noqa: E402
from neuroseq_core.safety.words import normalise  # noqa: E402

DROP_AT, GROUP_AT = 0.92, 0.6
SHARES = {"train": 0.6, "dev": 0.2, "test": 0.2}


def _load(path: Path, source: str) -> list[tuple[Example, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["examples"]:
        try:
            out.append((Example.model_validate(item), source))
        except ValueError as exc:
            print(f"{path.name}: dropped {item.get('text', '')[:40]!r}: {exc}", file=sys.stderr)
    return out


def _legacy(path: Path) -> list[tuple[Example, str]]:
    # tests/safety_eval.yaml (language -> label -> texts): the lexicon-era set becomes learning data.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for lang, by_label in data.items():
        for label, texts in by_label.items():
            for text in texts:
                labels = [] if label == "none" else [label]
                ex = Example(
                    text=text, lang=lang, labels=labels, tier="clear" if labels else None, kind="legacy"
                )
                out.append((ex, "legacy"))
    return out


def _groups(texts: list[str]) -> tuple[list[int], list[bool]]:
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    x = vec.fit_transform([normalise(t) for t in texts])
    sim = (x @ x.T).tocoo()
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    drop = [False] * len(texts)
    for i, j, v in zip(sim.row, sim.col, sim.data, strict=True):
        if i >= j:
            continue
        if v >= DROP_AT:
            drop[j] = True
        if v >= GROUP_AT:
            parent[find(j)] = find(i)
    return [find(i) for i in range(len(texts))], drop


def _row(ex: Example) -> dict[str, object]:
    row = ex.model_dump(exclude_none=True)
    if row.get("region") == "any":
        del row["region"]
    if not row.get("kind"):
        row.pop("kind", None)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("batches", nargs="+", type=Path)
    ap.add_argument("--legacy", type=Path, help="tests/safety_eval.yaml: train and dev only")
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()
    items: list[tuple[Example, str]] = []
    for path in args.batches:
        items += _load(path, path.stem)
    legacy = _legacy(args.legacy) if args.legacy else []
    items += legacy
    groups, drop = _groups([e.text for e, _ in items])
    kept = [i for i in range(len(items)) if not drop[i]]
    print(f"{len(items)} messages, {len(items) - len(kept)} near-duplicates removed", file=sys.stderr)
    by_group: dict[int, list[int]] = defaultdict(list)
    for i in kept:
        by_group[groups[i]].append(i)

    def stratum(i: int) -> tuple[str, str, str]:
        ex = items[i][0]
        return ex.lang, ex.labels[0] if ex.labels else "none", "hard" if ex.hard else "plain"

    rng = random.Random(args.seed)
    order = list(by_group.values())
    rng.shuffle(order)
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(SHARES, 0))
    split_of: dict[int, str] = {}
    for members in order:
        key = stratum(members[0])
        have = counts[key]
        total = sum(have.values()) + len(members)
        legacy_only = any(items[i][1] == "legacy" for i in members)
        choices = [s for s in SHARES if not (legacy_only and s == "test")]
        split = max(choices, key=lambda s: SHARES[s] * total - have[s])
        for i in members:
            split_of[i] = split
        have[split] += len(members)
    by_file: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for i, split in split_of.items():
        ex, source = items[i]
        by_file[(split, source)].append(ex)
    for (split, source), examples in sorted(by_file.items()):
        folder = args.out / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = [_row(e) for e in examples]
        head = (
            f"# {split} split, from batch '{source}'. Written apart from the project; see docs/safety.md.\n"
        )
        body = yaml.safe_dump({"examples": rows}, allow_unicode=True, sort_keys=False, width=100)
        (folder / f"{source}.yaml").write_text(head + body, encoding="utf-8")
    for split in SHARES:
        print(split, sum(1 for s in split_of.values() if s == split), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
