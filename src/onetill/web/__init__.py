"""The till screen: a web point of sale served by the engine (``onetill run``, ``onetill demo``).

``till_ui(card=..., token=...)`` makes the factory the engine takes as
``Engine(ui=...)``; see ``onetill.web.app``.
"""

from onetill.web.app import TillApp, till_ui
from onetill.web.payments import CardPayments, CardRequest, ManualCard

__all__ = ["CardPayments", "CardRequest", "ManualCard", "TillApp", "till_ui"]
