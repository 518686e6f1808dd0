"""The names dialogs/ uses, bound to the engine's functions; and the model the shared machine runs on.

Segment modules register with the decorators below when imported (neuroseq_core.engine imports them
all). `check_flow` tells whether every name in a flow has a function here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from transitions import EventData

from dialogs.flow import Flow

if TYPE_CHECKING:
    from neuroseq_core.domain.events import Button
    from neuroseq_core.engine.turn import Turn

Callback = Callable[["Turn", EventData], Any]
Source = Callable[["Turn", list["Button"]], list["Button"]]
PromptText = Callable[["Turn", str], str]
F = TypeVar("F")

CALLBACKS: dict[str, Callback] = {}
SOURCES: dict[str, Source] = {}
PROMPT_TEXTS: dict[str, PromptText] = {}


def callback(fn: Callback) -> Callback:
    """Register a guard or callback under its function name, for dialogs/ to name."""
    CALLBACKS[fn.__name__] = fn
    return fn


def source(name: str) -> Callable[[Source], Source]:
    """Register a choice source: the buttons of an Ask whose `source` is `name`."""

    def register(fn: Source) -> Source:
        SOURCES[name] = fn
        return fn

    return register


def prompt_text(name: str) -> Callable[[PromptText], PromptText]:
    """Register how the question with this message id is worded (the variables it needs)."""

    def register(fn: PromptText) -> PromptText:
        PROMPT_TEXTS[name] = fn
        return fn

    return register


class FlowModel:
    """What the shared Machine runs on for one turn: the state, and the registered names bound to it."""

    def __init__(self, turn: Turn, state: str) -> None:
        self.turn = turn
        self.state = state

    def __getattr__(self, name: str) -> Callable[[EventData], Any]:
        fn = CALLBACKS.get(name)
        if fn is None:
            raise AttributeError(name)
        return partial(fn, self.turn)


@callback
def asked_for(turn: Turn, ev: EventData) -> bool:
    """Guard: this transition goes where the trigger was asked to go (`to=`)."""
    return ev.transition is not None and ev.kwargs.get("to") == ev.transition.dest


def check_flow(flow: Flow) -> list[str]:
    """What is wrong with a flow: names with no function, choice sources unknown, asks of no state."""
    problems = [
        f"'{n}' is named in dialogs/{flow.name}.py but not defined"
        for n in sorted(flow.callback_names() - set(CALLBACKS))
    ]
    for state, ask in flow.asks.items():
        if state not in flow.states:
            problems.append(f"an ask is defined for unknown state '{state}'")
        if ask.again is not None and ask.again == ask.message:
            problems.append(f"state '{state}' asks again with the same message")
        if ask.source is not None and ask.source not in SOURCES:
            problems.append(f"state '{state}' takes its choices from unknown source '{ask.source}'")
        for trigger in {ask.trigger_for(o) for o in ask.options if "{choice}" not in ask.trigger}:
            if trigger not in flow.triggers():
                problems.append(f"state '{state}' fires unknown trigger '{trigger}'")
    for state in flow.states:
        if state not in flow.reachable():
            problems.append(f"state '{state}' can never be reached")
    return problems
