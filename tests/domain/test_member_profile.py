"""A member's attribute values as stored: each of its attribute's type."""

from __future__ import annotations

from app.domain.member_profile import AttributeDefinition, AttributeType, checked_attributes
from app.domain.validation import Checker


def test_a_date_is_stored_in_one_form_whatever_iso_form_was_sent() -> None:
    check = Checker()
    definitions = [AttributeDefinition(name="since", type=AttributeType.DATE)]

    basic = checked_attributes(check, ["attributes"], {"since": "20260301"}, definitions)
    extended = checked_attributes(check, ["attributes"], {"since": "2026-03-01"}, definitions)

    assert check.errors == []
    assert basic == extended == {"since": "2026-03-01"}
