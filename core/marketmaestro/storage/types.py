"""Column types SQLite lacks.

SQLite has no decimal type: a ``NUMERIC`` column silently turns ``Decimal("0.1")`` into the binary
float ``0.1000000000000000055...``. Money therefore goes to a ``TEXT`` column holding ``str(Decimal)``,
which is exact for any precision and reads back as the same ``Decimal``. The price of that choice:
SQL comparisons and ``ORDER BY`` on these columns are textual, so filter and sort money in Python.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator


class DecimalText(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as its exact text (``str(value)``); ``None`` stays ``NULL``.

    Only finite ``Decimal`` values (and ``int``, which converts exactly) are accepted: a ``float``
    has already lost the exact value, and NaN or infinity in a money column means corrupt state.
    """

    impl = Text
    cache_ok = True

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(
                f"decimal column received {value!r} ({type(value).__name__}); expected a Decimal or int"
            )
        decimal = Decimal(value)
        if not decimal.is_finite():
            raise ValueError(f"decimal column received {value!r}; expected a finite Decimal")
        return str(decimal)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        try:
            # str() first: SQLite hands back an int or float if someone wrote a number by hand.
            return Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"decimal column holds {value!r}, which is not a decimal number") from None
