"""HTML bodies to text: visible text kept, quotes marked, Outlook's original cut off."""
from __future__ import annotations

from jcbot.channels.email.htmltext import ORIGINAL_MARKER, html_to_text


def test_blocks_become_lines_and_entities_are_decoded():
    html = "<div>Object &mdash; the&nbsp;baseline</div><div>is <b>too</b> high</div>"
    assert html_to_text(html) == "Object — the baseline\nis too high"


def test_blank_lines_only_where_written():
    html = "<p>Agree.</p><p>&nbsp;</p><p>Best regards,</p><p>Taro</p>x<br><br>y"
    assert html_to_text(html).split("\n") == ["Agree.", "", "Best regards,", "Taro", "x", "", "y"]


def test_head_style_script_and_comments_are_not_text():
    html = "<html><head><title>t</title><style>p {color: red}</style></head><body><!--[if mso]>x<![endif]-->" \
           "<script>var a = 'Object';</script><p>Agree</p></body></html>"
    assert html_to_text(html) == "Agree"


def test_blockquote_and_gmail_quote_become_quoted_lines():
    html = ('<div>Yes</div><div class="gmail_quote"><div class="gmail_attr">On Tue, X wrote:<br></div>'
            '<blockquote class="gmail_quote"><p>AGREE or OBJECT</p></blockquote></div><div>after</div>')
    assert html_to_text(html).split("\n") == ["Yes", "> On Tue, X wrote:", "> AGREE or OBJECT", "after"]


def test_outlook_reply_header_ends_the_text():
    html = ('<div>Object - too high</div><hr><div id="divRplyFwdMsg"><b>From:</b> JC</div>'
            "<div>AGREE or OBJECT</div>")
    assert html_to_text(html).split("\n") == ["Object - too high", ORIGINAL_MARKER]


def test_malformed_html_does_not_lose_the_answer():
    html = "<div><p>Agree</span></div></div></blockquote><p>still here"
    assert html_to_text(html) == "Agree\nstill here"


def test_unclosed_quote_quotes_to_the_end():
    assert html_to_text("Agree<blockquote>quoted<p>more") == "Agree\n> quoted\n> more"


def test_pre_keeps_its_line_breaks():
    html = '<pre class="moz-quote-pre">Object - too high\nsee table 3</pre>'
    assert html_to_text(html) == "Object - too high\nsee table 3"


def test_marked_up_signatures_are_dropped():
    html = ('<div>Agree</div><div class="gmail_signature">Taro<br>MOFA</div>'
            '<pre class="moz-signature">-- \nDr. Oyun</pre>')
    assert html_to_text(html) == "Agree"
