"""Deferred: the real object is made on first use, once; an unused one makes nothing."""
import copy

from jcbot.deferred import Deferred


class _Real:
    name = "smtp"

    def hello(self) -> str:
        return "hello"


def test_the_real_object_is_made_on_first_use_and_only_once():
    made = []

    def build() -> _Real:
        made.append(1)
        return _Real()

    d = Deferred(build)
    assert d.built is None and made == []
    assert d.hello() == "hello" and d.name == "smtp"
    assert d.real() is d.built and made == [1]


def test_an_unused_one_makes_nothing_even_when_copied_or_asked_for_dunders():
    def build() -> _Real:
        raise AssertionError("must not be built")

    d = Deferred(build)
    assert getattr(d.built, "close", None) is None  # what a close() of an unmade sender reads
    copy.copy(d)
    assert not hasattr(d, "__missing_dunder__")
    assert d.built is None
