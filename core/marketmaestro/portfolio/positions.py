"""Position arithmetic: applying a fill to a position."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from marketmaestro.model import Fill, Position


def apply_fill(position: Position, fill: Fill, *, fee: Decimal = Decimal(0)) -> Position:
    """The position after ``fill``: average entry price of what is held, realised P&L of what was closed,
    and ``fee`` (the fill's fee in the quote currency, see ``valuation.fee_in_quote``) added to its fees.

    Realised P&L is gross: net P&L is realised plus unrealised minus fees.
    """
    held = position.quantity
    traded = fill.side.sign * fill.quantity
    after = held + traded
    realized = position.realized_pnl
    if held == 0 or (held > 0) == (traded > 0):
        # Opening or adding: the average entry is the quantity-weighted mean.
        average = (abs(held) * position.average_price + fill.quantity * fill.price) / abs(after)
    else:
        closed = min(abs(traded), abs(held))
        direction = Decimal(1) if held > 0 else Decimal(-1)
        realized += closed * (fill.price - position.average_price) * direction
        if after == 0:
            average = Decimal(0)
        elif (after > 0) == (held > 0):
            average = position.average_price  # partly closed: what remains keeps its entry price
        else:
            average = fill.price  # flipped: the new side was entered at this fill
    return replace(
        position, quantity=after, average_price=average, realized_pnl=realized, fees=position.fees + fee
    )
