"""One page of a long list: "Page x sur y" with previous/next buttons, remembered per list.

A page asks its service for the total (a count query), calls :func:`paginate` before showing
the list, then asks the service for ``page.limit`` items from ``page.offset`` only::

    total = accounts.count_users(session, actor=admin, search=search)
    page = paging.paginate(total, key="comptes", reset_on=search)
    users = accounts.list_users(session, actor=admin, search=search,
                                limit=page.limit, offset=page.offset)
    ...
    paging.controls(page, key="comptes", where="bas")

Nothing is drawn while the whole list fits on one page.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rcp.i18n import _

PAGE_SIZE = 20


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of ``count`` pages of ``size`` items, over ``total`` items."""

    number: int
    count: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size

    @property
    def first(self) -> int:
        """Rank (from 1) of the first item shown; 0 for an empty list."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)


def _number_key(key: str) -> str:
    return f"{key}_page_number"


def _go(key: str, number: int) -> None:
    st.session_state[_number_key(key)] = number


def current_page(total: int, *, key: str, size: int = PAGE_SIZE, reset_on: object = None) -> Page:
    """The page of the list ``key`` to show now, without drawing anything.

    Back to page 1 when ``reset_on`` (the list's search or filter) changed since the last
    rerun; kept within the pages there are when the list got shorter (an item acted upon).
    """
    count = max(1, -(-total // size))
    filter_key = f"{key}_page_filter"
    if st.session_state.get(filter_key) != repr(reset_on):
        st.session_state[filter_key] = repr(reset_on)
        st.session_state[_number_key(key)] = 1
    number = min(max(1, int(st.session_state.get(_number_key(key), 1))), count)
    st.session_state[_number_key(key)] = number
    return Page(number=number, count=count, size=size, total=total)


def controls(page: Page, *, key: str, where: str = "haut") -> None:
    """Previous/next buttons and "Page x sur y" (nothing when there is only one page).

    ``where`` tells apart two sets of controls of the same list (above and below it).
    """
    if page.count <= 1:
        return
    # One horizontal container, not columns: fewer elements to draw on every rerun.
    with st.container(
        horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"
    ):
        st.button(
            _("Page précédente"),
            key=f"{key}_previous_{where}",
            icon=":material/chevron_left:",
            disabled=page.number <= 1,
            on_click=_go,
            args=(key, page.number - 1),
        )
        st.caption(
            _("Page {number} sur {count} · {first} à {last} sur {total}").format(
                number=page.number,
                count=page.count,
                first=page.first,
                last=page.last,
                total=page.total,
            ),
            width="content",
        )
        st.button(
            _("Page suivante"),
            key=f"{key}_next_{where}",
            icon=":material/chevron_right:",
            icon_position="right",
            disabled=page.number >= page.count,
            on_click=_go,
            args=(key, page.number + 1),
        )


def paginate(total: int, *, key: str, size: int = PAGE_SIZE, reset_on: object = None) -> Page:
    """:func:`current_page`, with its controls drawn here (above the list)."""
    page = current_page(total, key=key, size=size, reset_on=reset_on)
    controls(page, key=key)
    return page
