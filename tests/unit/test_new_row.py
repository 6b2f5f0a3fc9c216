"""``db.rows.new_row``: a new row's object built as the ORM's loader builds one."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import configure_mappers

from optihub.db.models import Order, OrderLine
from optihub.db.rows import new_row


def test_the_values_are_the_objects_and_nothing_is_pending_in_its_history():
    configure_mappers()
    order_id = uuid.uuid4()
    line = new_row(OrderLine, id=uuid.uuid4(), order_id=order_id, quantity=2, tax=Decimal("1"))
    assert isinstance(line, OrderLine)
    assert (line.order_id, line.quantity, line.tax) == (order_id, 2, Decimal("1"))
    state = inspect(line)
    assert state.transient
    assert not state.committed_state  # no attribute event ran: nothing recorded as changed


def test_an_unknown_name_is_refused_as_the_constructor_refuses_it():
    with pytest.raises(TypeError, match="Order has no attribute colour, size"):
        new_row(Order, id=uuid.uuid4(), size=1, colour="red")
    with pytest.raises(TypeError):
        Order(id=uuid.uuid4(), size=1)
