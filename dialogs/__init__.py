"""The flows: states, transitions and guards as data, one shared model-less Machine per flow."""

from dialogs.main import MAIN

__all__ = ["MAIN"]
