"""How ``onetill connect`` fails: one exception carrying what, what to do, and the exit code."""

from __future__ import annotations

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_NOT_WOOCOMMERCE",
    "EXIT_OTHER_STORE",
    "EXIT_UNREACHABLE",
    "ConnectFailed",
]

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
EXIT_NOT_WOOCOMMERCE = 4
EXIT_AUTH = 5
EXIT_OTHER_STORE = 6  # another store while sales wait (or an engine runs): nothing changed


class ConnectFailed(Exception):
    """A check failed: ``message`` says what, ``hint`` what to do, ``code`` the exit status."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
