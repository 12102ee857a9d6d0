"""The focus indicator of the site's stylesheet meets WCAG 2.1's 3:1 (1.4.11 non-text contrast) against
every colour it can sit next to (issue 15: #ffbf47 alone on white was 1.6:1)."""
from __future__ import annotations

import re

from jcbot.publish.render import stylesheet


def colours() -> dict[str, str]:
    root = re.search(r":root \{(.*?)\}", stylesheet(), re.S)
    assert root
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", root.group(1)))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_contrast_formula_matches_wcag_s_figures():
    assert round(contrast("#ffffff", "#000000"), 1) == 21.0
    assert round(contrast("#ffbf47", "#ffffff"), 1) == 1.6  # the old outline, as the issue measured it


def test_the_focus_ring_is_3_to_1_against_every_background_and_the_halo_against_dark_ones():
    c = colours()
    # The ring (outline) borders the page's backgrounds outside and the halo inside.
    for background in ("paper", "band", "focus-halo"):
        assert contrast(c["focus"], c[background]) >= 3, background
    # The halo fills the outline's offset: next to a button (--link) or dark text it stands out too.
    for dark in ("link", "ink", "bad", "ok"):
        assert contrast(c["focus-halo"], c[dark]) >= 3, dark


def test_every_focusable_element_gets_the_ring_and_the_halo():
    css = stylesheet()
    rule = re.search(r"(^|\n):focus-visible, \[data-result\]:focus \{([^}]*)\}", css)
    assert rule, "one :focus-visible rule for every element"
    body = rule.group(2)
    assert "outline: 3px solid var(--focus)" in body and "outline-offset: 2px" in body
    assert "box-shadow: 0 0 0 2px var(--focus-halo)" in body  # the halo fills exactly the offset
    assert "outline: none" not in css.replace("main:focus { outline: none; box-shadow: none; }", "")
