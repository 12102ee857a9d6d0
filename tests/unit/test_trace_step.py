"""A step's sentence may be written lazily: the same step, written once, on first read."""
from datetime import UTC, datetime

from jcbot.core.trace import Step

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_lazy_text_is_written_once_on_first_read():
    calls = []

    def write() -> str:
        calls.append(1)
        return "h01 asserts affirmative (day 0; within the period)"

    step = Step(AT, "assertion", write)
    assert calls == []
    assert step.text == "h01 asserts affirmative (day 0; within the period)"
    assert step.text == step.text
    assert calls == [1]


def test_lazy_and_written_steps_compare_by_their_words():
    lazy = Step(AT, "assertion", lambda: "same words")
    assert lazy == Step(AT, "assertion", "same words")
    assert hash(lazy) == hash(Step(AT, "assertion", "same words"))
    assert lazy != Step(AT, "assertion", "other words")
    assert lazy != Step(AT, "deadline", "same words")
    assert "same words" in repr(lazy)
