"""One event in: the handler it goes to. Buttons fire the trigger their state's Ask names."""

from __future__ import annotations

from collections.abc import Callable

from dialogs.circle import CIRCLE_STATES
from dialogs.flow import Ask
from dialogs.main import HISTORY
from neuroseq_core.domain.events import Choice, Command, Due, Start, Text, Unsupported
from neuroseq_core.engine import account, checkins, circle, now, onboarding, plan, progress, safety
from neuroseq_core.engine.asking import buttons, prompt, side_question
from neuroseq_core.engine.matching import match_choice, sounds_like_a_hard_moment, typed_language
from neuroseq_core.engine.questions import repair
from neuroseq_core.engine.turn import Turn

Handler = Callable[[Turn, str], None]


def _then_ask(fn: Callable[[Turn], None]) -> Handler:
    def run(turn: Turn, args: str) -> None:
        fn(turn)
        prompt(turn)

    return run


COMMANDS: dict[str, Handler] = {
    "start": lambda turn, args: onboarding.on_start(turn, Start(language=None, now=turn.event.now)),
    "restart": lambda turn, args: onboarding.restart(turn),
    "cancel": lambda turn, args: account.pause(turn),
    "stop": lambda turn, args: account.stop(turn),
    "now": lambda turn, args: now.help_now(turn),
    "plan": _then_ask(plan.plan),
    "handover": _then_ask(plan.handover),
    "progress": lambda turn, args: progress.progress(turn),
    "help": lambda turn, args: prompt(turn, "help.text"),
    "privacy": lambda turn, args: prompt(turn, "privacy.text"),
    "back": lambda turn, args: account.back(turn),
    "delete": lambda turn, args: account.ask_delete(turn),
    "helplines": _then_ask(safety.helplines),
    "language": account.language,
    "circle": circle.circle_command,
    "invite": circle.invite_command,
    "join": circle.join_command,
}


def _unknown(turn: Turn, args: str) -> None:
    prompt(turn, "command.unknown")


def handle(turn: Turn) -> None:
    """Dispatch the event."""
    ev = turn.event
    repair(turn)
    if turn.s.safety is not None and isinstance(ev, (Start, Command, Choice, Text)):
        turn.s.safety.asking = False  # whatever they did instead answers (or sets aside) the question
    if isinstance(ev, Start) and ev.payload:
        circle.on_start_link(turn, ev)  # a deep link: an invite to a circle
    elif isinstance(ev, Start):
        onboarding.on_start(turn, ev)
    elif isinstance(ev, Command):
        COMMANDS.get(ev.name.lower(), _unknown)(turn, ev.args)
    elif isinstance(ev, Choice):
        on_choice(turn, ev.option_id, ev.token)
    elif isinstance(ev, Text):
        on_text(turn, ev.text)
    elif isinstance(ev, Due):
        if ev.what == circle.DIGEST:
            circle.on_due(turn)
        else:
            checkins.on_due(turn, ev)
    elif isinstance(ev, Unsupported):
        # An edited message is never re-applied to an earlier question: we say so and re-ask.
        # Its new words are still screened: an edit that adds a disclosure gets help.
        note = "input.edited" if ev.what == "edited_message" else "input.unsupported"
        if not (ev.text and safety.screen(turn, ev.text)) and not safety.ask_again(turn, note):
            prompt(turn, note)
    _forget_invite(turn)


def _forget_invite(turn: Turn) -> None:
    """An invite code is kept only while its Join screen is open (wherever they went instead)."""
    if turn.state != "circle_join":
        turn.s.circle_code = None


def on_choice(turn: Turn, option_id: str, token: str | None) -> None:
    """A button (or a typed number or label)."""
    if turn.state == turn.flow.initial and not (
        option_id == safety.NOW_OPEN or safety.is_safety_choice(option_id)
    ):
        # A button from a conversation we no longer hold (erased, or long purged): said plainly, and
        # nothing is kept until they start again. Help in a hard moment still comes, whatever the button.
        turn.refused = True
        turn.say("reprompt.forgotten")
        return
    if option_id.startswith(account.LANGUAGE):
        account.switch_language(turn, option_id.removeprefix(account.LANGUAGE))
        return
    if option_id == safety.NOW_OPEN:
        now.help_now(turn)
        return
    if option_id == safety.SAFETY_STOP:
        account.pause(turn)
        return
    if safety.is_safety_choice(option_id):
        safety.on_safety_choice(turn, option_id)
        return
    if option_id in (account.DELETE_CONFIRM, account.DELETE_KEEP):
        account.on_delete_choice(turn, option_id)
        return
    ask = turn.flow.asks.get(turn.state)
    if turn.repaired:
        turn.refused = True
        prompt(turn, "question.missing")
    elif token is not None and token != turn.s.token:
        # One notice per old question: ten quick taps on a passed button get one answer, not ten.
        if turn.s.stale_token != token:
            turn.s.stale_token = token
            turn.refused = True
            prompt(turn, "reprompt.stale")
    elif ask is None:
        prompt(turn)
    elif option_id not in [b.id for b in buttons(turn, ask)]:
        turn.refused = True
        prompt(turn, "reprompt.unknown")
    else:
        apply(turn, ask, option_id)


def _echo(turn: Turn, ask: Ask, option_id: str) -> str | None:
    """The label of the pressed button, when its message may become the next question."""
    ev = turn.event
    if not ask.in_place or not isinstance(ev, Choice) or ev.message_id is None or ev.token is None:
        return None
    return next((b.label for b in buttons(turn, ask) if b.id == option_id), None)


def _in_place(turn: Turn, message_id: int, echo: str) -> None:
    """The next question alone is said: it is shown in the pressed message, after the answer."""
    if len(turn.replies) == 1 and turn.replies[0].kind == "question" and turn.replies[0].picture is None:
        turn.replies[0] = turn.replies[0].model_copy(update={"edits": message_id, "echo": echo})


def apply(turn: Turn, ask: Ask, option_id: str) -> None:
    """Fire the trigger the state's Ask names for this choice, then ask what comes next."""
    before = turn.state
    echo = _echo(turn, ask, option_id)
    kwargs: dict[str, object] = {"value": option_id}
    if ask.passes:
        kwargs["to"] = getattr(turn.s.returns, ask.passes)
    if ask.text_trigger and ask.trigger_for(option_id) == ask.text_trigger:
        kwargs = {"text": None}  # the Skip button of a typed answer (not its Back)
    if not turn.fire(ask.trigger_for(option_id), **kwargs):
        turn.refused = True
        prompt(turn, "reprompt.unknown")
        return
    if before in HISTORY:
        turn.s.history.append(before)
    if turn.state in turn.flow.asks:
        prompt(turn)
    if echo is not None and isinstance(turn.event, Choice) and turn.event.message_id is not None:
        _in_place(turn, turn.event.message_id, echo)


def on_text(turn: Turn, raw: str) -> None:
    """Free text: screened for danger first; a language's name; an age at the age question; a
    nickname; a choice (its number, label or a word for it); else a kind answer that shows help."""
    if safety.screen(turn, raw):
        return
    wanted = typed_language(turn, raw)
    if wanted is not None:
        account.switch_language(turn, wanted)
        return
    ask = turn.flow.asks.get(turn.state)
    if ask is None:
        prompt(turn)
        return
    if ask.source == "age_bands" and onboarding.on_typed_age(turn, raw, ask):
        return
    if ask.text_trigger and not raw.strip().startswith("/"):
        if turn.state in CIRCLE_STATES and circle.on_label(turn, raw, ask.text_trigger):
            return
        if turn.state not in CIRCLE_STATES and onboarding.on_nickname(turn, raw, ask):
            return
    chosen = match_choice(turn, raw, ask)
    if chosen is not None:
        on_choice(turn, chosen, None)
        return
    if sounds_like_a_hard_moment(turn, raw):
        # A hard moment right now: help first, one tap away; the question waits.
        prompt(turn)
        side_question(turn, turn.t("reprompt.hard_moment"), [safety.NOW_OPEN])  # last: the one to tap
        return
    # Words we cannot act on are still heard: say so, and show where help is.
    prompt(turn, "reprompt.free_text")
