"""How ``onetill connect`` fails: one exception carrying what, what to do, and the exit code.

Defined once in ``onetill.connection`` (the till screen's connect form fails the
same way); re-exported here for the CLI's modules.
"""

from __future__ import annotations

from onetill.connection import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_NOT_WOOCOMMERCE,
    EXIT_OTHER_STORE,
    EXIT_UNREACHABLE,
    ConnectFailed,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_NOT_WOOCOMMERCE",
    "EXIT_OTHER_STORE",
    "EXIT_UNREACHABLE",
    "ConnectFailed",
]
