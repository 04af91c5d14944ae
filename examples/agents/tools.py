"""Tool implementations of the support-desk example, against the mock state.

Each function takes the state (a mapping the environment deep-copied from the case's
``initial_state``) and the call's arguments; it may change the state and returns the result
the agent reads. An exception is answered to the agent as a tool error.
"""

from __future__ import annotations

from typing import Any


def _order(state: dict[str, Any], order_id: str) -> dict[str, Any]:
    orders = state.get("orders", {})
    if order_id not in orders:
        raise KeyError(f"no order {order_id}")
    return orders[order_id]  # type: ignore[no-any-return]


def lookup_order(state: dict[str, Any], order_id: str) -> dict[str, Any]:
    """The order's customer, email, status, total and amount refunded so far."""
    return {"order_id": order_id, **_order(state, order_id)}


def refund_order(state: dict[str, Any], order_id: str, amount: float, reason: str = "") -> dict[str, Any]:
    """Refund part or all of an order; refused above what is left to refund."""
    order = _order(state, order_id)
    left = round(order["total"] - order["refunded"], 2)
    if amount > left + 1e-9:
        raise ValueError(f"cannot refund {amount:.2f}: only {left:.2f} of order {order_id} is left to refund")
    order["refunded"] = round(order["refunded"] + amount, 2)
    if abs(order["refunded"] - order["total"]) < 1e-9:
        order["status"] = "refunded"
    refunds = state.setdefault("refunds", [])
    refund_id = f"R{len(refunds) + 1:03d}"
    refunds.append({"refund_id": refund_id, "order_id": order_id, "amount": amount, "reason": reason})
    return {"refund_id": refund_id, "order_id": order_id, "amount": amount,
            "refunded_total": order["refunded"]}


def cancel_order(state: dict[str, Any], order_id: str) -> dict[str, Any]:
    """Cancel an order that has not shipped; its total is refunded."""
    order = _order(state, order_id)
    if order["status"] != "processing":
        raise ValueError(f"order {order_id} cannot be cancelled: it is {order['status']}")
    order["status"] = "cancelled"
    order["refunded"] = order["total"]
    return {"order_id": order_id, "status": "cancelled", "refunded": order["total"]}
