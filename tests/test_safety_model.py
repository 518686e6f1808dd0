"""The learned model's plumbing: serving reads exactly the features training saw; the cache."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from neuroseq_core.safety import SafetyScreen
from neuroseq_core.safety import train as train_module
from neuroseq_core.safety.examples import load_examples
from neuroseq_core.safety.features import analyse_folded
from neuroseq_core.safety.screen import ScreenConfig, trained_model
from neuroseq_core.safety.words import normalise

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped() -> SafetyScreen:
    screen, errors = SafetyScreen.load(ROOT / "content")
    assert not [e for e in errors if not e.warning]
    return screen


@pytest.mark.parametrize(
    "text",
    ["he's not breathing!!", "Mi hijo se tomó las pastillas", "a b c d e", "ünïcödé  and   spaces", "x"],
)
def test_serving_reads_the_features_training_saw(shipped: SafetyScreen, text: str) -> None:
    model = shipped.model
    assert model is not None
    words = normalise(text).split()
    served = sorted(i for ids in model._position_ids(words) for i in ids)
    trained = sorted(model.vocabulary[f] for f in analyse_folded(normalise(text)) if f in model.vocabulary)
    assert served == trained


def test_weights_are_cached_by_content_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    examples = [e for e in load_examples(ROOT / "content", []) if e.split == "train"][:400]
    config = ScreenConfig()
    first = trained_model(examples, config, ROOT / "content")
    files = list((tmp_path / "neuroseq").glob("safety-*.npz"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again although the weights were cached")

    monkeypatch.setattr(train_module, "fit", no_training)
    again = trained_model(examples, config, ROOT / "content")
    text = "my uncle gets in my bed at night"
    cached, fresh = again.scores(text), first.scores(text)  # weights are kept as float32
    assert cached.danger == pytest.approx(fresh.danger, abs=1e-6)
    assert cached.categories == pytest.approx(fresh.categories, abs=1e-6)
    # Other examples or another config: another key, so training runs.
    with pytest.raises(AssertionError, match="trained again"):
        trained_model(examples[:-1], config, ROOT / "content")
    with pytest.raises(AssertionError, match="trained again"):
        trained_model(examples, ScreenConfig(c=2.0), ROOT / "content")


def test_the_test_split_is_not_part_of_the_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    examples = load_examples(ROOT / "content", [])
    learn = [e for e in examples if e.split == "train"][:300]
    test = [e for e in examples if e.split == "test"]
    trained_model(learn, ScreenConfig(), ROOT / "content")
    monkeypatch.setattr(train_module, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    trained_model(learn + test, ScreenConfig(), ROOT / "content")  # same key: test examples ignored
