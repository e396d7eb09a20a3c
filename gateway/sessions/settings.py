"""The wearer's settings for one app session, changed by a pure reducer.

`apply_control(settings, control)` is the whole rule for what the app's Live
and Privacy pages may set: it returns the new settings and what must happen
because of the change (tell the cloud, delete old data), or a refusal to show
the user. No sockets, no clocks: the app session carries out the effects.

Face blur is not a switch. Bystanders never agreed to be sent anywhere, so a
request to turn blur off is refused, saying what to use instead ("no-camera"
sends no frames at all). Retention (in days, 0 = until deleted) covers
everything kept for the user; the app sends it on every connection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from protocol import ANSWER_MODES, AnswerMode, Control, PrivacyMode
from protocol.privacy import parse_privacy, policy_for

FACE_BLUR_LOCKED = (
    "face blur stays on: bystanders' faces are always blurred before a frame leaves; "
    "choose privacy mode no-camera to send no frames at all"
)
# Days a retention setting may name: five digits is over 270 years.
MAX_RETENTION_DIGITS = 5
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class AppSettings:
    """What the app's Live and Privacy pages set for this session."""

    privacy: PrivacyMode = "standard"
    mode: AnswerMode = "auto"
    paused: bool = False
    retention_days: int = 0  # 0 = keep until deleted
    # Live captions and conversation notes (opt-in, off by default); the captions' language.
    captions: bool = False
    notes: bool = False
    translate_to: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not carried out, as the app shows it (an `Error`'s code and text)."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class TellCloud:
    """The cloud hears the wearer's setting the way it would from any edge."""

    action: str
    value: str


@dataclass(frozen=True, slots=True)
class EnforceRetention:
    """Delete what the user keeps (history, memories) older than this."""

    max_age_s: float


Effect = TellCloud | EnforceRetention


@dataclass(frozen=True, slots=True)
class Applied:
    """A control's outcome: the settings after it, and what follows (or why nothing does)."""

    settings: AppSettings
    effects: tuple[Effect, ...] = ()
    refusal: Refusal | None = None


def parse_answer_mode(value: str) -> AnswerMode | None:
    """An answer mode from outside (a Control's value), or None if it is none."""
    for mode in ANSWER_MODES:
        if value == mode:
            return mode
    return None


def with_mode(settings: AppSettings, mode: AnswerMode) -> AppSettings:
    """A Hello or a typed question names the answer mode it wants."""
    return replace(settings, mode=mode)


def apply_hello(settings: AppSettings, privacy: PrivacyMode, mode: AnswerMode) -> AppSettings:
    """The app's Hello states its mode and privacy (the codec has checked both)."""
    return replace(settings, privacy=privacy, mode=mode)


# Switches the cloud keeps for the session (cloud/session_settings.py, spoken answers):
# the gateway only passes them on.
CLOUD_SWITCHES = ("shopping", "speak")


def apply_control(settings: AppSettings, control: Control) -> Applied:
    """The settings after one `Control` from the app, with its effects or its refusal."""
    action, value = control.action, control.value
    if action == "mode" and (mode := parse_answer_mode(value)) is not None:
        return Applied(replace(settings, mode=mode), (TellCloud(action, value),))
    if action == "privacy" and (privacy := parse_privacy(value)) is not None:
        return Applied(replace(settings, privacy=privacy), (TellCloud(action, value),))
    if action in ("pause", "resume"):
        return Applied(replace(settings, paused=action == "pause"))
    if action == "face_blur" and value == "off":
        return Applied(settings, refusal=Refusal("face_blur_locked", FACE_BLUR_LOCKED))
    if action == "face_blur" and value == "on":
        return Applied(settings, (TellCloud(action, value),))  # always so; the cloud still hears
    if action in CLOUD_SWITCHES and value in ("on", "off"):
        return Applied(settings, (TellCloud(action, value),))  # the cloud's to keep
    if action in LISTENING_SWITCHES:
        return _listening(settings, action, value)
    if action == "retention" and _is_days(value):
        days = int(value)
        effects = (EnforceRetention(days * SECONDS_PER_DAY),) if days else ()
        return Applied(replace(settings, retention_days=days), effects)
    return Applied(
        settings, refusal=Refusal("bad_control", f"unknown setting {action!r}={value!r}")
    )


# What the wearer hears, captioned or noted: the gateway's tap and the cloud both follow it.
LISTENING_SWITCHES = ("captions", "notes", "translate")
# Languages captions may be put into (cloud/captions/commands.py names them).
TRANSLATE_TO = ("", "de", "es", "fr", "it", "pt", "nl", "zh", "ja")
LISTENING_LOCAL_ONLY = (
    "local-only mode: captions and notes need the server's speech recognition, and nothing "
    "leaves this phone; switch privacy to standard or no-camera to use them"
)


def _listening(settings: AppSettings, action: str, value: str) -> Applied:
    """Captions, notes or the captions' language; refused where nothing may leave."""
    if action == "translate":
        if value not in TRANSLATE_TO:
            return Applied(
                settings, refusal=Refusal("bad_control", f"cannot translate to {value!r}")
            )
        return Applied(replace(settings, translate_to=value), (TellCloud(action, value),))
    if value not in ("on", "off"):
        return Applied(settings, refusal=Refusal("bad_control", f"{action} is on or off"))
    on = value == "on"
    if on and not policy_for(settings.privacy).questions_leave:
        return Applied(settings, refusal=Refusal("local_only", LISTENING_LOCAL_ONLY))
    changed = (
        replace(settings, captions=on) if action == "captions" else replace(settings, notes=on)
    )
    return Applied(changed, (TellCloud(action, value),))


def _is_days(value: str) -> bool:
    # isascii: str.isdigit() also accepts digits like "²" that int() refuses.
    return value.isascii() and value.isdigit() and len(value) <= MAX_RETENTION_DIGITS
