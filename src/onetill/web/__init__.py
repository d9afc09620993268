"""The till screen: a web point of sale served by the engine (``onetill run``, ``onetill demo``).

``till_ui(card=..., token=...)`` makes the factory the engine takes as
``Engine(ui=...)``; see ``onetill.web.app``. ``card``: ``ManualCard`` (a
terminal the till does not talk to) or ``TerminalCard(home)`` (the till's
Stripe reader, ``onetill.pay``).
"""

from onetill.web.app import TillApp, till_ui
from onetill.web.card_terminal import TerminalCard
from onetill.web.payments import CardPayments, CardRequest, ManualCard

__all__ = ["CardPayments", "CardRequest", "ManualCard", "TerminalCard", "TillApp", "till_ui"]
