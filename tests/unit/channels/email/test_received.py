"""Dating a reply by the Received headers of the organisation's own MTAs, and by nothing the sender wrote."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default

import pytest

from jcbot.channels.email.received import SKEW, out_of_bounds, parse_date, received_instant, trusted_hosts

NOW = datetime(2026, 3, 23, 18, 0, tzinfo=UTC)  # jcbot's receipt, after an outage
MX = "mx.jcm-mn.example.org"
# Postfix's own header: the time the organisation's mail system took the reply.
POSTFIX = ("from mail-wr1-f50.google.com (mail-wr1-f50.google.com [209.85.221.50])\r\n"
           f"\tby {MX} (Postfix) with ESMTPS id 4Zx1Lq0Kd2z9sVm\r\n"
           "\tfor <jc+a4aqz45b@jcm-mn.example.org>; Mon, 23 Mar 2026 23:59:30 +0800 (ULAT)")
GMAIL = ("by 2002:a05:6000:1a8e:b0:391:2c0f with SMTP id l14csp1;\r\n"
         "        Mon, 23 Mar 2026 07:59:29 -0800 (PST)")


def message(*received: str, extra: str = "") -> object:
    """A reply's header section with these Received headers, topmost first."""
    head = "".join(f"Received: {r}\r\n" for r in received)
    raw = (head + extra + "From: Hanako Sato <hanako.sato.jc@gmail.com>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
           "Subject: Re: proposal\r\n\r\nAgree\r\n")
    return BytesHeaderParser(policy=default).parsebytes(raw.encode())


def test_postfix_header_dates_the_reply_when_the_mta_received_it():
    dated = received_instant(message(POSTFIX, GMAIL), [MX], NOW)
    assert dated.at == datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)  # 23:59:30 +08:00, folded over three lines
    assert dated.header == f"Received #1 (by {MX})" and dated.problem is None


def test_no_trusted_host_configured_keeps_receipt_time_and_reads_nothing():
    dated = received_instant(message(POSTFIX), [], NOW)
    assert (dated.at, dated.header, dated.problem) == (None, None, None)
    assert received_instant(message(POSTFIX), [" ", ""], NOW).at is None


def test_host_names_match_without_regard_to_case():
    assert received_instant(message(POSTFIX.replace(MX, MX.upper())), [" Mx.JCM-mn.example.org "], NOW).at is not None


def test_forged_received_below_the_trusted_one_is_never_read():
    # The sender wrote a header claiming our MX took the reply days earlier; Postfix's own is on top.
    forged = f"from x by {MX} (Postfix); Mon, 9 Mar 2026 08:00:00 +0800"
    dated = received_instant(message(POSTFIX, forged, GMAIL), [MX], NOW)
    assert dated.at == datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)
    assert dated.header == "Received #1 (by mx.jcm-mn.example.org)"


def test_forged_received_below_is_ignored_even_when_the_sender_said_helo_as_our_mx():
    # HELO is the client's word: Postfix writes it into the `from` clause of its own header.
    helo = f"from {MX} (unknown [203.0.113.9]) by {MX} (Postfix) with ESMTP id 5; Mon, 23 Mar 2026 15:59:30 +0000"
    forged = f"from x by {MX} (Postfix); Mon, 9 Mar 2026 08:00:00 +0800"
    dated = received_instant(message(helo, forged), [MX], NOW)
    assert dated.at == datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC) and dated.header == f"Received #1 (by {MX})"


def test_forged_received_naming_another_trusted_host_needs_the_hop_above_to_name_it():
    relay = "relay.jcm-mn.example.org"
    forged = f"from x by {relay}; Mon, 9 Mar 2026 08:00:00 +0800"
    dated = received_instant(message(POSTFIX, forged), [MX, relay], NOW)
    assert dated.at == datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)  # Postfix got it from Google, not the relay


def test_untrusted_header_on_top_means_nothing_below_is_trusted():
    # Only headers prepended by our own MTAs sit above everything the sender wrote.
    dated = received_instant(message(GMAIL, POSTFIX), [MX], NOW)
    assert dated.at is None and dated.header is None
    assert MX in dated.problem


def test_only_a_date_header_or_other_sender_headers_date_nothing():
    dated = received_instant(message(extra=f"X-Received: by {MX}; Mon, 9 Mar 2026 08:00:00 +0800\r\n"), [MX], NOW)
    assert dated.at is None and dated.header is None


def test_several_trusted_hops_use_the_earliest_one():
    # The MX took it at 15:59:30 UTC, queued it while the relay to jcbot was down, passed it on at 17:40.
    inner = ("from mx.jcm-mn.example.org (mx.jcm-mn.example.org [10.0.0.5])\r\n"
             "\tby relay.jcm-mn.example.org (Postfix) with ESMTP id 7Qq; Mon, 23 Mar 2026 17:40:02 +0000")
    dated = received_instant(message(inner, POSTFIX, GMAIL), [MX, "relay.jcm-mn.example.org"], NOW)
    assert dated.at == datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)
    assert dated.header == f"Received #2 (by {MX})"


def test_a_content_filter_loop_through_the_same_host_stops_at_the_top_copy():
    # Postfix -> amavis -> Postfix writes two headers "by" the MX; the lower one is indistinguishable
    # from a forgery of it, so only the upper one counts (a later, still genuine, instant).
    again = f"from localhost (localhost [127.0.0.1]) by {MX} (Postfix) with ESMTP id 9; Mon, 23 Mar 2026 16:00:05 +0000"
    dated = received_instant(message(again, POSTFIX), [MX], NOW)
    assert dated.at == datetime(2026, 3, 23, 16, 0, 5, tzinfo=UTC) and dated.header == f"Received #1 (by {MX})"


def test_a_client_saying_helo_by_does_not_pass_for_the_receiving_host():
    header = f"from by (unknown [203.0.113.9]) by {MX} (Postfix) with ESMTP id 1; Mon, 23 Mar 2026 16:00:05 +0000"
    assert received_instant(message(header), [MX], NOW).at == datetime(2026, 3, 23, 16, 0, 5, tzinfo=UTC)
    sneaky = f"from {MX} (unknown [203.0.113.9]) by evil.example with SMTP; Mon, 9 Mar 2026 08:00:00 +0000"
    assert received_instant(message(sneaky), [MX], NOW).at is None


@pytest.mark.parametrize("text, expected", [
    ("Mon, 23 Mar 2026 23:59:30 +0800 (ULAT)", datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)),
    ("23 Mar 2026 15:59:30 +0000", datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)),  # no weekday
    ("Mon, 23 Mar 26 15:59:30 GMT", datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)),  # two-digit year, zone name
    ("Mon, 23 Mar 2026 10:59:30 EST", datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)),  # obsolete US zone
    ("Mon, 23 Mar 2026 15:59:30 -0000", datetime(2026, 3, 23, 15, 59, 30, tzinfo=UTC)),  # UTC, zone unknown
    ("Mon, 23 Mar 2026 15:59 +0000", datetime(2026, 3, 23, 15, 59, tzinfo=UTC)),  # no seconds
])
def test_odd_but_valid_date_formats(text, expected):
    assert parse_date(text) == expected
    assert received_instant(message(f"from a by {MX}; {text}"), [MX], NOW).at == expected


@pytest.mark.parametrize("date", ["", "garbage", "Tue, 31 Feb 2026 10:00:00 +0000", "Mon, 23 Mar 99999 10:00:00 +0000",
                                  "Mon, 23 Mar 2026 15:59:30.5 +0000", "\x00\x01"])
def test_unreadable_date_falls_back_to_receipt_with_a_reason(date):
    dated = received_instant(message(f"from a by {MX} (Postfix); {date}"), [MX], NOW)
    assert dated.at is None and dated.header == f"Received #1 (by {MX})"
    assert "unreadable date" in dated.problem


@pytest.mark.parametrize("value", ["", ";", "by", f"by {MX}", "(((", f"from (by {MX}) x; Mon, 23 Mar 2026 15:59:30 +0000",
                                   "=?utf-8?q?by_mx?= ; Mon, 23 Mar 2026 15:59:30 +0000"])
def test_garbage_headers_are_not_trusted_and_do_not_raise(value):
    dated = received_instant(message(value), [MX], NOW)
    assert dated.at is None and dated.header is None


def test_a_date_in_the_future_beyond_the_skew_falls_back():
    later = NOW + SKEW + timedelta(seconds=1)
    dated = received_instant(message(f"from a by {MX}; {later:%a, %d %b %Y %H:%M:%S +0000}"), [MX], NOW)
    assert dated.at is None and "in the future" in dated.problem


def test_a_date_slightly_ahead_within_the_skew_is_now():
    ahead = NOW + SKEW - timedelta(seconds=1)
    dated = received_instant(message(f"from a by {MX}; {ahead:%a, %d %b %Y %H:%M:%S +0000}"), [MX], NOW)
    assert dated.at == NOW and dated.problem is None


def test_bounds_refuse_an_instant_before_distribution():
    distributed = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert "before the proposal was distributed" in out_of_bounds(distributed - timedelta(seconds=1), NOW, distributed)
    assert out_of_bounds(distributed, NOW, distributed) is None
    assert out_of_bounds(NOW + SKEW, NOW, distributed) is None


def test_the_trusted_hosts_are_the_settings_names_lower_case_and_none_is_none():
    # inbound.receive parses no header for the dating when there are none.
    assert trusted_hosts([" MX.Example.org ", "", "  "]) == {"mx.example.org"}
    assert trusted_hosts([]) == set() and trusted_hosts(["", " "]) == set()
    assert received_instant(message(f"from a by {MX}; Mon, 2 Mar 2026 23:59:30 +0800"), [" ", ""], NOW).at is None
