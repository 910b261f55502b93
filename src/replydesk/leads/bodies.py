"""Message body renderings: provider HTML → plain text (inscriptis), and the visible part of
an e-mail's text with quoted history and signature folded away (mail-parser-reply).

Called when a message is stored, which is the worker path (webhooks only store the raw
event). Pure functions, bounded input: a body longer than ``RENDER_MAX_CHARS`` is rendered
from its first ``RENDER_MAX_CHARS`` characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from mailparser_reply import EmailReplyParser

from replydesk.leads.vocabulary import Channel

RENDER_MAX_CHARS = 500_000
# The reply parser's header and signature patterns, for the languages it knows that our
# workspaces write in.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
# The strict profile does not indent nested blocks: the reply parser matches quote headers
# and signatures at the start of a line.
_HTML_CONFIG = ParserConfig(css=CSS_PROFILES["strict"])


@dataclass(frozen=True)
class RenderedBody:
    html: str | None
    text: str | None
    visible: str | None


def html_to_text(html: str) -> str:
    return str(get_text(html[:RENDER_MAX_CHARS], _HTML_CONFIG)).strip()


def visible_part(text: str) -> str:
    """The newest reply of an e-mail text, without quoted history or signature; the whole
    text when the parser finds nothing else."""
    replies = EmailReplyParser(languages=REPLY_LANGUAGES).read(text=text[:RENDER_MAX_CHARS])
    newest = replies.replies[0].body.strip() if replies.replies else ""
    return newest or text.strip()


def render(channel: str, body: str | None, html: str | None, text: str | None) -> RenderedBody:
    """``html``/``text``: what the provider sent as HTML and as plain text (either may be
    missing); ``body``: the legacy body, plain text on channels without HTML."""
    plain = text or (html_to_text(html) if html else None) or body
    if not plain:
        return RenderedBody(html=html, text=None, visible=None)
    visible = visible_part(plain) if channel == Channel.EMAIL else plain
    return RenderedBody(html=html, text=plain, visible=visible)


def visible_text(text: str | None, html: str | None) -> str:
    """The visible part of an e-mail given as text and/or HTML ('' when there is none)."""
    return render(Channel.EMAIL, None, html, text).visible or ""
