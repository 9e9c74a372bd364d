"""Account calls: the prediction history and the balance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract import BALANCE_PATH, LIST_PATH
from ..errors import ProtocolError
from ..prediction import Prediction, finite_number
from .answers import error_for, parse_prediction

if TYPE_CHECKING:
    from .host import ClientHost


async def list_predictions(
    client: ClientHost, page: int = 1, page_size: int = 100
) -> list[Prediction]:
    """The account's recent predictions, newest first (one page)."""
    body = {"page": page, "page_size": page_size}
    answer = await client._send("POST", LIST_PATH, kind="get", json_body=body)
    if answer.status != 200:
        raise error_for(answer, "list of predictions", client._redactor)
    envelope = answer.json()
    data = envelope.get("data") if isinstance(envelope, Mapping) else None
    items = data.get("items") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ProtocolError("list of predictions: answer has no list of items")
    found = []
    for item in items:
        if isinstance(item, Mapping):
            found.append(parse_prediction({"data": item}, client._redactor, "list"))
    return found


async def balance(client: ClientHost) -> float:
    """The account's balance in US dollars."""
    answer = await client._send("GET", BALANCE_PATH, kind="get")
    if answer.status != 200:
        raise error_for(answer, "balance", client._redactor)
    body = answer.json()
    data = body.get("data") if isinstance(body, Mapping) else None
    value = data.get("balance") if isinstance(data, Mapping) else None
    number = finite_number(value)
    if number is None:
        shown = client._redactor.tree(value)
        raise ProtocolError(f"balance answer has no number: {shown!r:.80}")
    return number


@dataclass(frozen=True)
class HistoryPage:
    """One page of the prediction history: ``total`` and each item with its reported ``input``.

    ``inputs[i]`` is the request the service says made ``items[i]`` (None when the history
    does not report it).
    """

    total: int | None
    items: tuple[Prediction, ...]
    inputs: tuple[Mapping[str, Any] | None, ...]


async def history_page(
    client: ClientHost,
    page: int,
    page_size: int = 100,
    *,
    model: str | None = None,
    created_after: str | None = None,
) -> HistoryPage:
    """One page of the history, newest first, with the contract's ``model``/``created_after``."""
    body: dict[str, Any] = {"page": page, "page_size": page_size}
    if model is not None:
        body["model"] = model
    if created_after is not None:
        body["created_after"] = created_after
    answer = await client._send("POST", LIST_PATH, kind="get", json_body=body)
    if answer.status != 200:
        raise error_for(answer, "list of predictions", client._redactor)
    envelope = answer.json()
    data = envelope.get("data") if isinstance(envelope, Mapping) else None
    items = data.get("items") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ProtocolError("list of predictions: answer has no list of items")
    total = data.get("total") if isinstance(data, Mapping) else None
    found, inputs = [], []
    for item in items:
        if isinstance(item, Mapping):
            found.append(parse_prediction({"data": item}, client._redactor, "list"))
            reported = item.get("input")
            inputs.append(reported if isinstance(reported, Mapping) else None)
    return HistoryPage(
        total if isinstance(total, int) and not isinstance(total, bool) else None,
        tuple(found),
        tuple(inputs),
    )
