"""Orders: the order manager and its lifecycle."""

from marketmaestro.orders.manager import OrderManager, new_client_order_id

__all__ = ["OrderManager", "new_client_order_id"]
