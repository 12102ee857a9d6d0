"""How jcbot reads an emailed reply: which assertion, which opinion, and why.

Pure: takes a parsed message (`parse_message`: the one way the LMTP listener, the
IMAP poller, the Maildir and `jcbot mail read` parse what they receive), returns a
ReplyReading; no database, no clock. The
answer is the first meaningful line of the text above the quoted original
(quoting.py); the words it may start with are a table of data (ANSWER_WORDS).
A reading only carries an assertion when it may be recorded (kind "answer").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from typing import Literal, NamedTuple

from jcbot.channels.email.autoreply import auto_reply_hits
from jcbot.channels.email.headers import READING, addresses, header_value, header_values
from jcbot.channels.email.quoting import body_text, strip_quoted
from jcbot.channels.email.tokens import recipient_addresses, tokens_in

Assertion = Literal["affirmative", "negative"]
Kind = Literal["answer", "auto_reply", "ambiguous", "empty", "missing_opinion", "unreadable"]


@dataclass(frozen=True)
class AnswerWord:
    """One word that gives a first line its meaning."""

    word: str
    assertion: Assertion
    # form: opens an answer and is listed to members; variant: also opens an answer;
    # signal: never opens one, but makes a line with the other kind of word ambiguous.
    role: Literal["form", "variant", "signal"]
    # Must be followed by punctuation or the end of the line to open an answer.
    needs_break: bool = False


_A, _N = "affirmative", "negative"
ANSWER_WORDS: tuple[AnswerWord, ...] = (
    *(AnswerWord(w, _A, "form") for w in ("affirm", "affirmative", "agree", "approve", "yes")),
    *(AnswerWord(w, _A, "variant") for w in ("agreed", "approved", "affirmed")),
    *(AnswerWord(w, _A, "signal") for w in ("affirms", "agrees", "approves", "approval")),
    AnswerWord("object", _N, "form"),
    AnswerWord("negative", _N, "form", needs_break=True),  # not "negative impacts ..."
    AnswerWord("disagree", _N, "form"),
    AnswerWord("no", _N, "form", needs_break=True),  # "No objection" / "No comments" mean the opposite
    AnswerWord("objection", _N, "variant"),
    *(AnswerWord(w, _N, "signal") for w in ("objects", "objected", "objections", "disagreed", "disagrees")),
    # Negations turn an affirmative word around ("yes, I don't agree"): they make it ambiguous.
    *(AnswerWord(w, _N, "signal") for w in ("not", "don't", "dont", "cannot", "can't", "never", "oppose", "reject")),
)
_WORDS = {w.word: w for w in ANSWER_WORDS}
_LEAD_IN = ("i", "we")  # "I agree", "We object: ..."
_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SEPARATORS = " \t:;,.!?-–—/|()[]*\"'"
_GREETING = re.compile(
    r"^(dear|hi|hello|hey|greetings|good (morning|afternoon|evening|day)|to whom it may concern)\b", re.IGNORECASE
)


class TextReading(NamedTuple):
    """The reading of a reply's text alone (no headers)."""

    assertion: Assertion | None
    opinion: str | None
    kind: Kind
    reason: str
    answer_line: str | None


@dataclass(frozen=True)
class ReplyReading:
    """What jcbot read in a reply; `assertion` is set only when kind is "answer"."""

    assertion: Assertion | None
    opinion: str | None
    kind: Kind
    reason: str
    message_id: str | None = None
    from_address: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    answer_line: str | None = None


def parse_message(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    """Received bytes as a message (the modern policy, each header parsed once: headers.READING).

    `headers_only`: the header block alone, the body left unparsed (to date a message).
    """
    if headers_only:
        return BytesHeaderParser(_class=EmailMessage, policy=READING).parsebytes(raw)
    return message_from_bytes(raw, _class=EmailMessage, policy=READING)


def accepted_forms_text() -> str:
    """Return the human text listing the answers jcbot accepts (for the refusal email)."""
    forms = {a: [w.word.upper() if w.word in ("affirm", "object") else w.word
                 for w in ANSWER_WORDS if w.assertion == a and w.role == "form"] for a in (_A, _N)}
    return (
        "jcbot reads the first line of your reply, above the quoted message.\n"
        f"- To support the proposal, start that line with one of: {', '.join(forms[_A])}.\n"
        f"- To object, start it with one of: {', '.join(forms[_N])}, and give your opinion after the "
        "word or on the following lines; an objection without an opinion is not recorded.\n"
        "Put only one kind of answer on the first line. Examples:\n"
        "    Agree\n"
        "    Object - the baseline is too high\n"
    )


def _show(line: str) -> str:
    line = line.strip()
    return f'"{line}"' if len(line) <= 80 else f'"{line[:77]}..."'


def _words(line: str) -> list[tuple[str, int]]:
    """Return each word of the line, lowercased, with the index just after it in `line`."""
    # Typographic apostrophes are one character like "'", so indices stay those of `line`.
    return [(m.group().lower(), m.end()) for m in _WORD_RE.finditer(line.replace("’", "'"))]


def _is_greeting(line: str, words: list[tuple[str, int]]) -> bool:
    if not _GREETING.match(line.strip()) or any(w in _WORDS for w, _ in words):
        return False
    return line.rstrip().endswith((",", ":", "!")) or len(words) <= 4


def _lead(line: str, words: list[tuple[str, int]]) -> tuple[AnswerWord, str] | None:
    """Return the answer word opening the line and the rest of the line after it."""
    start = 1 if len(words) > 1 and words[0][0] in _LEAD_IN else 0
    if start >= len(words) or (found := _WORDS.get(words[start][0])) is None or found.role == "signal":
        return None
    rest = line[words[start][1]:]
    if found.needs_break and rest.strip() and rest.lstrip()[0] not in _SEPARATORS:
        return None
    return found, rest


def _opinion(rest: str, following: list[str]) -> str | None:
    text = "\n".join([rest.lstrip(_SEPARATORS).rstrip(), *following]).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text if any(ch.isalnum() for ch in text) else None


def _next_meaningful(lines: list[str], start: int) -> int | None:
    return next((i for i in range(start, len(lines)) if any(ch.isalnum() for ch in lines[i])), None)


def read_text(text: str | None) -> TextReading:
    """Read a reply body: the assertion and opinion of its first meaningful line, and why."""
    if text is None:
        return TextReading(None, None, "empty", "the message has no text or HTML part to read; nothing recorded", None)
    lines = strip_quoted(text)
    index, label = _next_meaningful(lines, 0), "the first line"
    while index is not None and _is_greeting(lines[index], _words(lines[index])):
        index, label = _next_meaningful(lines, index + 1), "the first line after the greeting"
    if index is None:
        return TextReading(None, None, "empty", "no answer above the quoted message; nothing recorded", None)
    line = lines[index].strip()
    words = _words(line)
    kinds = {_WORDS[w].assertion: w for w, _ in words if w in _WORDS}
    if len(kinds) > 1:
        reason = (f"{label} {_show(line)} has both an affirmative word ({kinds[_A]!r}) and a "
                  f"negative word ({kinds[_N]!r}); nothing recorded")
        return TextReading(None, None, "ambiguous", reason, line)
    lead = _lead(line, words)
    if lead is None:
        reason = f"{label} {_show(line)} does not start with an accepted answer; nothing recorded"
        return TextReading(None, None, "ambiguous", reason, line)
    word, rest = lead
    opinion = _opinion(rest, lines[index + 1 :])
    if word.assertion == _N and opinion is None:
        reason = (f"{label} {_show(line)} is a negative, and a negative needs your opinion "
                  "(after the word or on the following lines); nothing recorded")
        return TextReading(None, None, "missing_opinion", reason, line)
    reason = f"{label} {_show(line)} reads as {word.assertion} (word {word.word!r})"
    if opinion is not None:
        reason += "; the text after it is the opinion"
    return TextReading(word.assertion, opinion, "answer", reason, line)


# A message id as RFC 5322 writes it; no control characters or spaces (an id goes into
# headers of a refusal and into the database, where a CR, LF or NUL would break them).
_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>")
_BARE_ID = re.compile(r"[^<>\s\x00-\x1f\x7f]{1,250}")
# An address jcbot could answer: printable, no spaces, no control characters, one '@'.
_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f@<>()\[\],;:\\\"]{1,64}@[^\s\x00-\x1f\x7f@<>()\[\],;:\\\"]{1,255}")


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(_ID.findall(value or ""))[:100]


def _message_id(value: str | None) -> str | None:
    ids = _ids(value)
    if ids:
        return ids[0]
    return value if value and _BARE_ID.fullmatch(value) else None  # some clients omit the brackets


def _sender(msg: Message) -> str | None:
    # Several From addresses cannot be one member's reply; an address with a control
    # character, a space or a quoted local part is no member's registered address.
    senders = addresses(header_values(msg, "From")[:2])
    return senders[0] if len(senders) == 1 and _ADDRESS.fullmatch(senders[0]) else None


def read_reply(msg: Message, *, reply_local: str | None = None) -> ReplyReading:
    """Read one reply; `reply_local` limits tokens to `<reply_local>+token@...` addresses. Never raises."""
    try:
        return _read_reply(msg, reply_local)
    except Exception as exc:  # noqa: BLE001 - the stdlib's parsers fail in many ways on hostile mail
        # Nothing can be trusted from a message jcbot cannot read, not even its sender: no answer.
        return ReplyReading(None, None, "unreadable", f"the message cannot be read ({type(exc).__name__}); "
                            "nothing recorded")


def _read_reply(msg: Message, reply_local: str | None) -> ReplyReading:
    in_reply_to = _ids(header_value(msg, "In-Reply-To"))
    recipients = recipient_addresses(msg)  # read once: the tokens are theirs, a bounce's too (reports.py)
    context = dict(
        message_id=_message_id(header_value(msg, "Message-ID")),
        from_address=_sender(msg),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_ids(header_value(msg, "References")),
        recipients=recipients,
        tokens=tokens_in(recipients, reply_local),
    )
    hits = auto_reply_hits(msg)
    if hits:
        rule, seen = hits[0]
        reason = f"automatic message ({rule.description}: {seen}); ignored without an answer"
        return ReplyReading(None, None, "auto_reply", reason, **context)
    try:
        got = read_text(body_text(msg))
    except Exception as exc:  # noqa: BLE001 - a body the stdlib cannot decode is not an answer
        got = TextReading(None, None, "unreadable", f"the message's text cannot be read ({type(exc).__name__}); "
                          "nothing recorded", None)
    return ReplyReading(got.assertion, got.opinion, got.kind, got.reason, answer_line=got.answer_line, **context)
