"""The services' messages in English: what a member of a European panel reads.

French stays the reference (the other tests assert it); here the same errors and documents
are produced inside ``i18n.using("en")`` (the page's or the recipient's language).
"""

from __future__ import annotations

from datetime import date

import pytest

from rcp import i18n
from rcp.errors import Conflict, InvalidInput, NotFound
from rcp.validation import check_birth_date, check_password_strength, clean_text, normalize_email


def test_a_default_error_message_comes_out_in_the_current_language() -> None:
    assert str(NotFound()) == "Élément introuvable."
    with i18n.using("en"):
        assert str(NotFound()) == "Item not found."
        assert str(Conflict()) == "This action is no longer possible in the current state."


def test_validation_messages_in_english() -> None:
    with i18n.using("en"):
        with pytest.raises(InvalidInput) as required:
            clean_text("  ", label="Title", field="title", max_length=10, required=True)
        with pytest.raises(InvalidInput) as too_long:
            clean_text("x" * 12, label="Title", field="title", max_length=10)
        with pytest.raises(InvalidInput) as email:
            normalize_email("not-an-address")
        with pytest.raises(InvalidInput) as password:
            check_password_strength("short")
        with pytest.raises(InvalidInput) as future:
            check_birth_date(date(2100, 1, 1), today=date(2026, 12, 1))
    assert str(required.value) == "The field “Title” is required."
    assert str(too_long.value) == "The field “Title” is too long (12 characters, 10 at most)."
    assert str(email.value).startswith("The email address is not valid")
    assert str(password.value).startswith("The password must be at least 12 characters long")
    assert str(future.value) == "The date of birth cannot be in the future."
