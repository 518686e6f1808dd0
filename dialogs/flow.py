"""A flow: its states, transitions (with guards named as strings) and what each state asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from transitions import Machine


@dataclass(frozen=True)
class Ask:
    """What a state shows: a message and where its choices come from.

    `choices` names a choice source the engine knows (e.g. "roles", "question");
    `trigger` is fired with the chosen id as `value` ("{choice}" fires the trigger named by the
    choice itself); `text_trigger`, if set, takes free text instead.
    """

    message: str
    choices: str
    trigger: str
    text_trigger: str | None = None


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

    def targets(self, state: str) -> set[str]:
        """States reachable in one transition from `state`."""
        out: set[str] = set()
        for t in self.transitions:
            sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
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
        """A mermaid state diagram drawn from the same definitions that run."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
            guard = t.get("conditions") or t.get("unless")
            label = t["trigger"] + (f" [{guard}]" if guard else "")
            for src in sources:
                src_name = "any" if src == "*" else src
                lines.append(f"    {src_name} --> {t['dest']} : {label}")
        return "\n".join(lines)
