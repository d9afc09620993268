"""Text from the store (or typed by anyone) made safe to print on a terminal.

A product name or SKU may hold ESC (``\\x1b[2J`` clears the screen, other
sequences retitle the window or fake output), NUL, other control characters
or bidirectional overrides that reorder what is shown. Printed raw, they
act on the cashier's terminal; escaped (``\\x1b``, ``\\u202e``) they are
seen for what they are. JSON output needs nothing: it is escaped already.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["printable"]

# C0 and C1 controls, DEL, and the bidi embeddings/overrides/isolates and marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``str(value)`` with every character that would act on a terminal escaped."""
    return _UNSAFE.sub(_escape, str(value))
