"""Services behind the paged lists: counts, limit/offset, and the batched look-ups of the pages.

A page shows ``limit`` items from ``offset`` and "Page x sur y" from the count: the pages must
not overlap, must together give the whole list in its order, and the count must be the size of
the list with the same filters. Each count is refused to whoever may not read the list.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from rcp import accounts, attachments, audit, cases, directory, invites, notify
from rcp.errors import PermissionDenied
from rcp.models import AuditEvent, UserStatus
from tests.factories import (
    make_admin,
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    registration,
)
from tests.unit.test_backup import pdf_bytes

NAMES = ("Abel", "Bernard", "Colin", "Dubois", "Etienne", "Fabre", "Girard", "Henry")


def _pages(fetch: Callable[[int, int], list], size: int, total: int) -> list[list]:
    """Every page of ``size`` items of a list of ``total`` items, fetched one by one."""
    return [fetch(size, offset) for offset in range(0, total, size)]


# --- Mes cas ---------------------------------------------------------------------------------


def test_my_cases_pages_cover_every_case_once_in_order(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(10))
    member = make_member(session, rcp, coordinator, phone=mobile(11))
    other = make_member(session, rcp, coordinator, phone=mobile(12))
    for k, days in enumerate((5, 12, 20)):
        meeting = make_meeting(session, rcp, coordinator, days_ahead=days)
        make_case(session, meeting, member, last_name=NAMES[2 * k])
        make_case(session, meeting, member, last_name=NAMES[2 * k + 1])
    make_case(session, meeting, other, last_name="Autre")

    assert cases.count_my_cases(session, actor=member) == 6
    everything = [r.case.id for r in cases.my_cases(session, actor=member)]
    pages = _pages(
        lambda limit, offset: [
            r.case.id for r in cases.my_cases(session, actor=member, limit=limit, offset=offset)
        ],
        4,
        6,
    )
    assert [len(p) for p in pages] == [4, 2]
    assert pages[0] + pages[1] == everything
    assert cases.count_my_cases(session, actor=other) == 1


def test_counting_my_cases_needs_an_active_account(session: Session) -> None:
    pending = make_user(session, active=False)
    with pytest.raises(PermissionDenied):
        cases.count_my_cases(session, actor=pending)


# --- Accès aux cas ---------------------------------------------------------------------------


def test_rcp_case_access_pages_and_count_leave_out_drafts_and_other_rcps(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(20))
    member = make_member(session, rcp, coordinator, phone=mobile(21))
    for first, days in ((0, 5), (3, 12)):
        meeting = make_meeting(session, rcp, coordinator, days_ahead=days)
        for k in range(3):
            make_case(session, meeting, member, last_name=NAMES[first + k])
    make_case(session, meeting, member, submit=False, last_name="Brouillon")
    other_rcp = make_rcp(session, name="Autre RCP")
    other_coordinator = make_coordinator(session, other_rcp, phone=mobile(22))
    other_member = make_member(session, other_rcp, other_coordinator, phone=mobile(23))
    make_case(session, make_meeting(session, other_rcp, other_coordinator), other_member)

    assert audit.count_rcp_cases(session, actor=coordinator, rcp_id=rcp.id) == 6
    everything = [
        r.case_id for r in audit.rcp_case_access(session, actor=coordinator, rcp_id=rcp.id)
    ]
    assert len(everything) == 6
    pages = _pages(
        lambda limit, offset: [
            r.case_id
            for r in audit.rcp_case_access(
                session, actor=coordinator, rcp_id=rcp.id, limit=limit, offset=offset
            )
        ],
        4,
        6,
    )
    assert pages[0] + pages[1] == everything


def test_only_the_rcp_coordinators_count_its_cases(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(24))
    member = make_member(session, rcp, coordinator, phone=mobile(25))
    for actor in (member, make_admin(session)):
        with pytest.raises(PermissionDenied):
            audit.count_rcp_cases(session, actor=actor, rcp_id=rcp.id)


def test_a_download_of_a_file_removed_since_still_counts_for_its_case(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(26))
    member = make_member(session, rcp, coordinator, phone=mobile(27))
    meeting = make_meeting(session, rcp, coordinator)
    case = make_case(session, meeting, member)
    other_case = make_case(session, meeting, member, last_name="Voisin")
    (row,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="cr.pdf", data=pdf_bytes()
    )
    attachments.open_attachment(session, actor=coordinator, attachment_id=row.id)
    attachments.remove(session, actor=member, attachment_id=row.id)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "file.removed")).first()

    (reader,) = audit.case_readers(session, actor=coordinator, case_id=case.id)
    assert (reader.user_id, reader.views, reader.downloads) == (coordinator.id, 0, 1)
    assert audit.case_readers(session, actor=coordinator, case_id=other_case.id) == []


# --- Comptes ---------------------------------------------------------------------------------


def test_count_users_matches_the_list_with_the_same_search_and_status(session: Session) -> None:
    admin = make_admin(session)
    for n in range(5):
        make_user(
            session,
            last_name=f"Paginé {NAMES[n]}",
            email=f"pagine{n}@chu.example",
            phone=mobile(30 + n),
        )
    make_user(session, active=False, last_name="Paginéattente", phone=mobile(36))
    make_user(session, last_name="Autrenom", phone=mobile(37))

    assert accounts.count_users(session, actor=admin, search="pagin") == 6
    assert accounts.count_users(session, actor=admin, search="pagin", status=UserStatus.active) == 5
    assert accounts.count_users(session, actor=admin) == len(
        accounts.list_users(session, actor=admin)
    )
    everything = [u.id for u in accounts.list_users(session, actor=admin, search="pagin")]
    pages = _pages(
        lambda limit, offset: [
            u.id
            for u in accounts.list_users(
                session, actor=admin, search="pagin", limit=limit, offset=offset
            )
        ],
        4,
        6,
    )
    assert [len(p) for p in pages] == [4, 2] and pages[0] + pages[1] == everything


def test_only_admins_count_accounts_and_outbox_messages(session: Session) -> None:
    doctor = make_user(session, phone=mobile(38))
    with pytest.raises(PermissionDenied):
        accounts.count_users(session, actor=doctor)
    with pytest.raises(PermissionDenied):
        accounts.count_outbox(session, actor=doctor)


# --- Inscriptions ----------------------------------------------------------------------------


def test_pending_queue_pages_oldest_first(session: Session) -> None:
    admin = make_admin(session)
    for n in range(5):
        make_user(session, active=False, last_name=f"Attente {NAMES[n]}", phone=mobile(40 + n))
    everything = [u.id for u in accounts.list_pending(session, actor=admin)]
    assert len(everything) == accounts.count_pending(session, actor=admin) == 5
    pages = _pages(
        lambda limit, offset: [
            u.id for u in accounts.list_pending(session, actor=admin, limit=limit, offset=offset)
        ],
        2,
        5,
    )
    assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == everything


def test_invite_contexts_give_each_registration_its_invitation_in_one_call(
    session: Session,
) -> None:
    admin = make_admin(session)
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(46))
    guests = []
    for n in range(2):
        email = f"invite{n}.pagine@chu.example"
        invites.create_invite(session, actor=coordinator, email=email, message=f"Message {n}")
        body = notify.list_outbox(session, to=email)[0].body or ""
        token = body.split("invitation=")[1].split()[0]
        guests.append(
            accounts.register(session, form=registration(phone=mobile(47 + n)), invite_token=token)
        )
    plain = accounts.register(session, form=registration(phone=mobile(49)))

    contexts = invites.invite_contexts(session, actor=admin, users=[*guests, plain])
    assert set(contexts) == {g.id for g in guests}
    for guest in guests:
        one = invites.invite_context(session, actor=admin, user=guest)
        assert one is not None
        assert contexts[guest.id].invite.id == one.invite.id
        assert contexts[guest.id].inviter_name == coordinator.display_name
    assert contexts[guests[1].id].invite.message == "Message 1"
    with pytest.raises(PermissionDenied):
        invites.invite_contexts(session, actor=coordinator, users=guests)


# --- Boîte d'envoi ---------------------------------------------------------------------------


def test_count_outbox_matches_the_list_for_a_recipient(session: Session) -> None:
    admin = make_admin(session)
    before = notify.count_outbox(session)
    for n in range(3):
        notify.send_email(session, to="compte@chu.example", subject=f"Sujet {n}", body="Corps")
    notify.send_email(session, to="autre@chu.example", subject="Autre", body="Corps")
    session.commit()
    assert notify.count_outbox(session) == before + 4
    assert accounts.count_outbox(session, actor=admin, to="compte@chu.example") == 3
    page_two = accounts.read_outbox(
        session, actor=admin, to="compte@chu.example", limit=2, offset=2
    )
    assert [m.subject for m in page_two] == ["Sujet 0"]


# --- Filières et RCP -------------------------------------------------------------------------


def test_coordinators_by_rcp_equals_one_query_per_rcp(session: Session) -> None:
    first = make_rcp(session)
    second = make_rcp(session, name="Deuxième RCP")
    empty = make_rcp(session, name="RCP sans coordination")
    make_coordinator(session, first, phone=mobile(50))
    make_coordinator(session, first, role="referent", phone=mobile(51))
    make_coordinator(session, second, phone=mobile(52))

    batched = directory.coordinators_by_rcp(session, [first.id, second.id, empty.id])
    assert set(batched) == {first.id, second.id, empty.id}
    for rcp in (first, second, empty):
        expected = directory.coordinators(session, rcp.id)
        assert [(r.member.id, r.user.id) for r in batched[rcp.id]] == [
            (r.member.id, r.user.id) for r in expected
        ]
    assert len(batched[first.id]) == 2 and batched[empty.id] == []
    assert directory.coordinators_by_rcp(session, []) == {}
