"""A flow as data: its states, transitions (guards and callbacks named as strings) and what each state asks.

The engine (neuroseq_core.engine) registers a function under every name used here, and
`neuroseq content check` fails when one is missing (neuroseq_core.engine.check_flow).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from transitions import Machine

CALLBACK_KEYS = ("prepare", "conditions", "unless", "before", "after")


@dataclass(frozen=True)
class Ask:
    """What a state shows: a message and its buttons, and the trigger a choice fires.

    `options` are fixed choice ids, each labelled by the message `label.format(id=...)`;
    `source`, if set, names the engine's choice source that builds the buttons from content (it is
    given the fixed ones to place or filter). A choice fires `by_choice.get(id, trigger)` with the id
    as `value`; "{choice}" in a trigger is the choice id itself. `passes` names a field of the
    session's `returns` passed to the trigger as `to` (where a side trip goes back to).
    `text_trigger`, if set, takes free text instead. `in_place`: a press on this question is
    answered by editing its message into the next question (after a short echo of the answer), when
    the next thing said is just that question; results, notices and side trips stay new messages.
    """

    message: str
    trigger: str
    options: tuple[str, ...] = ()
    label: str = ""
    source: str | None = None
    by_choice: Mapping[str, str] = field(default_factory=dict)
    passes: str | None = None
    text_trigger: str | None = None
    again: str | None = None  # the message when asked again at the same point (a shorter one)
    in_place: bool = False

    def trigger_for(self, option_id: str) -> str:
        """The trigger a choice fires."""
        return self.by_choice.get(option_id, self.trigger).format(choice=option_id)

    def label_ids(self) -> list[str]:
        """The message ids that label the fixed options."""
        return [self.label.format(id=o) for o in self.options] if self.label else []


def each(
    trigger: str, sources: Iterable[str], dests: Iterable[str], otherwise: str | None = None, **extra: Any
) -> tuple[dict[str, Any], ...]:
    """One transition per destination, taken when the trigger is fired with `to=` that destination
    (the guard `asked_for`): how resume, back and the end of a side trip go where they were.
    `otherwise`, if given, is where the trigger goes when `to=` is none of them."""
    src = list(sources)
    out = [{"trigger": trigger, "source": src, "dest": d, "conditions": "asked_for", **extra} for d in dests]
    if otherwise is not None:
        out.append({"trigger": trigger, "source": src, "dest": otherwise, **extra})
    return tuple(out)


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Flow:
    """One conversation flow. The Machine is built once and shared by every user (model=None)."""

    name: str
    initial: str
    states: tuple[str, ...]
    transitions: tuple[dict[str, Any], ...]
    asks: dict[str, Ask] = field(default_factory=dict)

    @cached_property
    def machine(self) -> Machine:
        """The shared machine; fire with `machine.events[name].trigger(model, **kwargs)`."""
        return Machine(
            model=None,
            states=list(self.states),
            transitions=[dict(t) for t in self.transitions],
            initial=self.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )

    def callback_names(self) -> set[str]:
        """Every guard and callback named by a transition."""
        return {n for t in self.transitions for key in CALLBACK_KEYS for n in _names(t.get(key))}

    def triggers(self) -> set[str]:
        """Every trigger of the flow."""
        return {t["trigger"] for t in self.transitions}

    def targets(self, state: str) -> set[str]:
        """States reachable in one transition from `state`."""
        out: set[str] = set()
        for t in self.transitions:
            sources = _names(t["source"])
            if "*" in sources or state in sources:
                out.add(t["dest"] if t["dest"] is not None else state)
        return out

    def reachable(self) -> set[str]:
        """Every state reachable from the initial state."""
        seen = {self.initial}
        todo = [self.initial]
        while todo:
            for nxt in self.targets(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def mermaid(self) -> str:
        """A mermaid state diagram drawn from the same definitions that run (one edge per trigger)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        seen: set[tuple[str, str, str]] = set()
        for t in self.transitions:
            guards = [*_names(t.get("conditions")), *(f"not {u}" for u in _names(t.get("unless")))]
            label = t["trigger"] + (f" [{', '.join(guards)}]" if guards else "")
            for src in _names(t["source"]):
                edge = ("any" if src == "*" else src, t["dest"], label)
                if edge not in seen:
                    seen.add(edge)
                    lines.append(f"    {edge[0]} --> {edge[1]} : {edge[2]}")
        return "\n".join(lines)
