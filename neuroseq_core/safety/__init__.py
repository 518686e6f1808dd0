"""The safety screen: a lexicon and a learned model that find danger in any free-text message."""

from neuroseq_core.safety.lexicon import LexiconScreen, PatternError, compile_pattern
from neuroseq_core.safety.screen import SafetyScreen, ScreenConfig, Verdict
from neuroseq_core.safety.words import CATEGORIES, SAMPLE_CONTEXT, CategoryId, normalise

__all__ = [
    "CATEGORIES",
    "SAMPLE_CONTEXT",
    "CategoryId",
    "LexiconScreen",
    "PatternError",
    "SafetyScreen",
    "ScreenConfig",
    "Verdict",
    "compile_pattern",
    "normalise",
]
