"""Every cell of rcp.permission_matrix, run against the real services.

One platform is built once (an RCP with a running meeting and an upcoming one, cases with
files, a validated opinion, a chat, one user per relationship) and saved as a SQLite file;
each cell runs its call on a fresh copy, so that calls that change things do not leak into
the next cell. Allowed calls must succeed; every other call must be refused with the error
the table names (PermissionDenied or NotFound, sometimes Conflict).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import pkgutil
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from sqlmodel import Session, SQLModel, select

import rcp
from rcp import (
    accounts,
    attachments,
    attendance,
    audit,
    auth,
    cases,
    chat,
    config,
    directory,
    errors,
    invites,
    meeting_live,
    meetings,
    opinions,
    series_download,
)
from rcp.db import make_engine
from rcp.models import (
    Case,
    LoginSession,
    OtpChallenge,
    OtpChannel,
    OtpPurpose,
    RcpMember,
    User,
    utcnow,
)
from rcp.permission_matrix import CASE_READERS, EXEMPT, MATRIX, ROLES, RULES, cells
from rcp.security import code_hash
from tests.factories import (
    PASSWORD,
    case_form,
    make_admin,
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
    start_now,
)
from tests.unit.test_backup import pdf_bytes

CT = get_testdata_file("CT_small.dcm", download=False)


@dataclass
class World:
    """Ids of the platform every cell runs on."""

    users: dict[str, int | None]  # role -> user id (anonymous: None)
    target_id: int  # an active doctor admins act on
    applicant_id: int  # a pending registration
    requester_id: int  # asked to join the RCP and to take part in the next meeting
    rcp_id: int
    family_id: int
    network_id: int
    live_id: int  # meeting running now
    next_id: int  # meeting in 20 days
    case_id: int  # submitted to the running meeting, with a PDF and a DICOM file
    validated_case_id: int  # running meeting, opinion validated (sheet stored)
    next_case_id: int  # submitted to the next meeting, with a PDF (editable)
    draft_id: int  # the submitter's draft in the next meeting, with a DICOM file
    draft_dicom_id: int  # DICOM of draft_id
    withdrawn_id: int  # submitted to the running meeting, then withdrawn by its submitter
    attachment_id: int  # PDF of case_id
    dicom_id: int  # DICOM of case_id
    dicom_series_uid: str  # its series
    image_id: int  # PNG of case_id
    next_attachment_id: int  # PDF of next_case_id
    membership_request_id: int
    participation_request_id: int
    target_login_id: int
    invite_id: int  # a registration invitation the coordinator sent
    target_phone_challenge_id: int  # the target asked to change its mobile number
    path: Path
    files: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("matrix")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RCP_DATA_DIR", str(base / "data"))
        mp.delenv("RCP_DATABASE_URL", raising=False)
        config.reset_settings_cache()
        engine = make_engine(f"sqlite:///{base / 'world.db'}")
        SQLModel.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as s:
            yield_world = _build(s, base)
        engine.dispose()
        config.reset_settings_cache()
    yield yield_world


def _build(s: Session, base: Path) -> World:
    n = iter(range(1, 99))
    rcp = make_rcp(s)
    coordinator = make_coordinator(s, rcp, phone=mobile(next(n)), last_name="Coordonne")
    other_rcp = make_rcp(s, name="SHU atypique et MAT")
    other_coordinator = make_coordinator(s, other_rcp, phone=mobile(next(n)))
    member = make_member(s, rcp, coordinator, phone=mobile(next(n)))
    submitter = make_member(s, rcp, coordinator, phone=mobile(next(n)))
    stranger = make_user(s, phone=mobile(next(n)))
    pending = make_user(s, active=False, phone=mobile(next(n)))
    applicant = make_user(s, active=False, phone=mobile(next(n)))
    invited = make_user(s, phone=mobile(next(n)))
    confirmed = make_user(s, phone=mobile(next(n)), specialty="Anatomopathologie")
    target = make_user(s, phone=mobile(next(n)))
    requester = make_user(s, phone=mobile(next(n)))
    admin = make_admin(s)

    live = make_meeting(s, rcp, coordinator, days_ahead=10)
    upcoming = make_meeting(s, rcp, coordinator, days_ahead=20)
    case = make_case(s, live, submitter, last_name="Secret", first_name="Patiente")
    (pdf,) = attachments.add_upload(
        s, actor=submitter, case_id=case.id, name="cr.pdf", data=pdf_bytes()
    )
    (dicom_row,) = attachments.add_upload(
        s, actor=submitter, case_id=case.id, name="ct.dcm", data=open(CT, "rb").read()
    )
    (image_row,) = attachments.add_upload(
        s, actor=submitter, case_id=case.id, name="photo.png", data=_png()
    )
    validated_case = make_case(s, live, submitter, last_name="Valide")
    next_case = make_case(s, upcoming, submitter, last_name="Suivant")
    (next_pdf,) = attachments.add_upload(
        s, actor=submitter, case_id=next_case.id, name="cr.pdf", data=pdf_bytes("2")
    )
    draft = make_case(s, upcoming, submitter, submit=False, last_name="Brouillon")
    (draft_dicom,) = attachments.add_upload(
        s, actor=submitter, case_id=draft.id, name="ct.dcm", data=open(CT, "rb").read()
    )
    withdrawn = make_case(s, live, submitter, last_name="Retire")
    cases.withdraw(s, actor=submitter, case_id=withdrawn.id)
    for meeting in (live, upcoming):
        meetings.invite(s, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
        meetings.invite(s, actor=coordinator, meeting_id=meeting.id, user_id=confirmed.id)
        meetings.respond(s, actor=confirmed, meeting_id=meeting.id, accept=True)
    participation_request = meetings.request_participation(
        s, actor=requester, meeting_id=upcoming.id
    )
    membership_request = directory.request_membership(s, actor=requester, rcp_id=rcp.id)
    start_now(s, live)
    attendance.record_join(s, actor=coordinator, meeting_id=live.id)
    attendance.record_join(s, actor=confirmed, meeting_id=live.id)
    meeting_live.raise_hand(s, actor=confirmed, meeting_id=live.id)
    attendance.grant_screen(s, actor=coordinator, meeting_id=live.id, user_id=confirmed.id)
    chat.post_message(s, actor=confirmed, meeting_id=live.id, body="Bonjour à tous.")
    opinions.save_draft(s, actor=coordinator, case_id=validated_case.id, proposal="Avis validé.")
    opinions.validate(
        s, actor=coordinator, case_id=validated_case.id, quorum_reason="Urgence thérapeutique."
    )
    opinions.save_draft(s, actor=coordinator, case_id=case.id, proposal="Avis en cours.")
    sign_in(s, target)
    login = s.exec(select(LoginSession).where(LoginSession.user_id == target.id)).one()
    invite = invites.create_invite(s, actor=coordinator, email="collegue@hopital.example")
    target_change = auth.request_phone_change(
        s, actor=target, new_phone=mobile(next(n)), password=PASSWORD
    )
    trail = directory.trail(s, rcp.id)
    return World(
        users={
            "anonymous": None,
            "pending": pending.id,
            "stranger": stranger.id,
            "member": member.id,
            "invited": invited.id,
            "confirmed": confirmed.id,
            "submitter": submitter.id,
            "other_coordinator": other_coordinator.id,
            "coordinator": coordinator.id,
            "admin": admin.id,
        },
        target_id=target.id,
        applicant_id=applicant.id,
        requester_id=requester.id,
        rcp_id=rcp.id,
        family_id=trail.family.id,
        network_id=trail.network.id,
        live_id=live.id,
        next_id=upcoming.id,
        case_id=case.id,
        validated_case_id=validated_case.id,
        next_case_id=next_case.id,
        draft_id=draft.id,
        draft_dicom_id=draft_dicom.id,
        withdrawn_id=withdrawn.id,
        attachment_id=pdf.id,
        dicom_id=dicom_row.id,
        dicom_series_uid=attachments.dicom_series(s, actor=submitter, case_id=case.id)[0].uid,
        image_id=image_row.id,
        next_attachment_id=next_pdf.id,
        membership_request_id=membership_request.id,
        participation_request_id=participation_request.id,
        target_login_id=login.id,
        invite_id=invite.id,
        target_phone_challenge_id=target_change.challenge_id,
        path=base / "world.db",
        files=base / "data" / "files",
    )


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- how each action is called ---------------------------------------------------------------

Call = Callable[[Session, Any, World], object]


def _must_list(items: list, wanted: int, attr: Callable[[Any], int]) -> list:
    """Turn "the list leaves it out" into a refusal, so lists are checked like reads."""
    if wanted not in {attr(item) for item in items}:
        raise errors.NotFound("absent de la liste")
    return items


def _must_hold(answer: bool) -> bool:
    """Turn a predicate's False into a refusal, so its ``:holds`` row is checked like a call."""
    if answer is not True:
        raise errors.PermissionDenied("le prédicat répond non")
    return answer


DAY = dt.date.today() + dt.timedelta(days=30)

CALLS: dict[str, Call] = {
    "accounts.list_pending": lambda s, a, w: accounts.list_pending(s, actor=a),
    "accounts.count_pending": lambda s, a, w: accounts.count_pending(s, actor=a),
    "accounts.approve": lambda s, a, w: accounts.approve(s, actor=a, user_id=w.applicant_id),
    "accounts.reject": lambda s, a, w: accounts.reject(
        s, actor=a, user_id=w.applicant_id, reason="Numéro RPPS introuvable."
    ),
    "accounts.list_users": lambda s, a, w: accounts.list_users(s, actor=a),
    "accounts.count_users": lambda s, a, w: accounts.count_users(s, actor=a),
    "accounts.disable": lambda s, a, w: accounts.disable(s, actor=a, user_id=w.target_id),
    "accounts.reactivate": lambda s, a, w: _reactivate(s, a, w),
    "accounts.reset_second_factor": lambda s, a, w: accounts.reset_second_factor(
        s, actor=a, user_id=w.target_id
    ),
    "accounts.unlock": lambda s, a, w: accounts.unlock(s, actor=a, user_id=w.target_id),
    "accounts.set_profession": lambda s, a, w: accounts.set_profession(
        s, actor=a, user_id=w.target_id, profession="pharmacist"
    ),
    "accounts.read_outbox": lambda s, a, w: accounts.read_outbox(s, actor=a),
    "accounts.count_outbox": lambda s, a, w: accounts.count_outbox(s, actor=a),
    "accounts.update_profile": lambda s, a, w: accounts.update_profile(
        s, actor=a, specialty="Néphrologie", institution="CHU de Lyon"
    ),
    "accounts.set_language": lambda s, a, w: accounts.set_language(s, actor=a, language="en"),
    "auth.list_sessions": lambda s, a, w: auth.list_sessions(s, actor=a),
    "auth.list_sessions:other_user": lambda s, a, w: auth.list_sessions(
        s, actor=a, user_id=w.target_id
    ),
    "auth.end_session:other_user": lambda s, a, w: auth.end_session(
        s, actor=a, login_session_id=w.target_login_id
    ),
    "auth.end_all_sessions": lambda s, a, w: auth.end_all_sessions(s, actor=a, user_id=w.target_id),
    "auth.change_password": lambda s, a, w: auth.change_password(
        s, actor=a, current_password=PASSWORD, new_password="Un-Nouveau-Secret-2027"
    ),
    "auth.begin_totp_enrolment": lambda s, a, w: auth.begin_totp_enrolment(s, actor=a),
    "auth.confirm_totp_enrolment": lambda s, a, w: _confirm_totp(s, a, w),
    "auth.disable_totp": lambda s, a, w: _disable_totp(s, a, w),
    "auth.request_phone_change": lambda s, a, w: auth.request_phone_change(
        s, actor=a, new_phone=mobile(97), password=PASSWORD
    ),
    "auth.confirm_phone_change": lambda s, a, w: _confirm_own_phone_change(s, a, w),
    "auth.confirm_phone_change:other_user": lambda s, a, w: auth.confirm_phone_change(
        s, actor=a, challenge_id=w.target_phone_challenge_id, code=KNOWN_CODE
    ),
    "invites.create_invite": lambda s, a, w: invites.create_invite(
        s, actor=a, email="nouveau@hopital.example"
    ),
    "invites.list_invites": lambda s, a, w: invites.list_invites(s, actor=a),
    "invites.list_invite_rows": lambda s, a, w: invites.list_invite_rows(s, actor=a),
    "invites.resend_invite": lambda s, a, w: invites.resend_invite(
        s, actor=a, invite_id=w.invite_id
    ),
    "invites.revoke_invite": lambda s, a, w: invites.revoke_invite(
        s, actor=a, invite_id=w.invite_id
    ),
    "invites.invite_for_user": lambda s, a, w: invites.invite_for_user(
        s, actor=a, user=s.get(User, w.applicant_id)
    ),
    "invites.invite_context": lambda s, a, w: invites.invite_context(
        s, actor=a, user=s.get(User, w.applicant_id)
    ),
    "invites.invite_contexts": lambda s, a, w: invites.invite_contexts(
        s, actor=a, users=[s.get(User, w.applicant_id)]
    ),
    "directory.list_networks": lambda s, a, w: directory.list_networks(s, actor=a),
    "directory.list_families": lambda s, a, w: directory.list_families(
        s, actor=a, network_id=w.network_id
    ),
    "directory.get_rcp": lambda s, a, w: directory.get_rcp(s, actor=a, rcp_id=w.rcp_id),
    "directory.list_members": lambda s, a, w: directory.list_members(s, actor=a, rcp_id=w.rcp_id),
    "directory.my_membership": lambda s, a, w: directory.my_membership(s, actor=a, rcp_id=w.rcp_id),
    "directory.is_rcp_member:holds": lambda s, a, w: _must_hold(
        directory.is_rcp_member(s, actor=a, rcp_id=w.rcp_id)
    ),
    "directory.can_manage:holds": lambda s, a, w: _must_hold(
        directory.can_manage(s, actor=a, rcp_id=w.rcp_id)
    ),
    "directory.create_network": lambda s, a, w: directory.create_network(
        s, actor=a, code="NEW", name="Nouvelle filière"
    ),
    "directory.create_family": lambda s, a, w: directory.create_family(
        s, actor=a, network_id=w.network_id, name="Nouvelle famille"
    ),
    "directory.create_rcp": lambda s, a, w: directory.create_rcp(
        s, actor=a, family_id=w.family_id, name="Nouvelle RCP"
    ),
    "directory.update_rcp": lambda s, a, w: directory.update_rcp(
        s,
        actor=a,
        rcp_id=w.rcp_id,
        name="RCP renommée",
        description="",
        min_specialties=3,
        min_participants=3,
    ),
    "directory.set_role": lambda s, a, w: directory.set_role(
        s, actor=a, rcp_id=w.rcp_id, user_id=w.target_id, role="referent"
    ),
    "directory.add_member": lambda s, a, w: directory.add_member(
        s, actor=a, rcp_id=w.rcp_id, user_id=w.target_id
    ),
    "directory.remove_member": lambda s, a, w: _remove_member(s, a, w, "member"),
    "directory.remove_member:coordinator": lambda s, a, w: _remove_member(s, a, w, "coordinator"),
    "directory.request_membership": lambda s, a, w: directory.request_membership(
        s, actor=a, rcp_id=w.rcp_id
    ),
    "directory.decide_membership": lambda s, a, w: directory.decide_membership(
        s, actor=a, member_id=w.membership_request_id, accept=True
    ),
    "directory.search_active_doctors": lambda s, a, w: directory.search_active_doctors(
        s, actor=a, search="Testeur"
    ),
    "meetings.list_meetings": lambda s, a, w: meetings.list_meetings(
        s, actor=a, rcp_id=w.rcp_id, upcoming=True
    ),
    "meetings.meeting_view": lambda s, a, w: meetings.meeting_view(
        s, actor=a, meeting_id=w.next_id
    ),
    "meetings.home": lambda s, a, w: meetings.home(s, actor=a),
    "meetings.schedule_meeting": lambda s, a, w: meetings.schedule_meeting(
        s, actor=a, rcp_id=w.rcp_id, day=DAY, start=dt.time(14), end=dt.time(16)
    ),
    "meetings.update_meeting": lambda s, a, w: meetings.update_meeting(
        s, actor=a, meeting_id=w.next_id, day=DAY, start=dt.time(15), end=dt.time(17)
    ),
    "meetings.cancel_meeting": lambda s, a, w: meetings.cancel_meeting(
        s, actor=a, meeting_id=w.next_id, reason="Jour férié"
    ),
    "meetings.invite": lambda s, a, w: meetings.invite(
        s, actor=a, meeting_id=w.next_id, user_id=w.target_id
    ),
    "meetings.respond": lambda s, a, w: meetings.respond(
        s, actor=a, meeting_id=w.next_id, accept=True
    ),
    "meetings.respond:decline": lambda s, a, w: meetings.respond(
        s, actor=a, meeting_id=w.next_id, accept=False
    ),
    "meetings.request_participation": lambda s, a, w: meetings.request_participation(
        s, actor=a, meeting_id=w.next_id
    ),
    "meetings.decide_request": lambda s, a, w: meetings.decide_request(
        s, actor=a, participation_id=w.participation_request_id, accept=True
    ),
    "cases.get_case": lambda s, a, w: cases.get_case(s, actor=a, case_id=w.case_id),
    "cases.visible_case": lambda s, a, w: cases.visible_case(s, a, w.case_id),
    "cases.editable_case": lambda s, a, w: cases.editable_case(s, a, w.next_case_id),
    "cases.may_edit:holds": lambda s, a, w: _must_hold(
        cases.may_edit(s, actor=a, case=s.get(Case, w.next_case_id))
    ),
    "cases.count_my_cases": lambda s, a, w: cases.count_my_cases(s, actor=a),
    "cases.get_case:draft": lambda s, a, w: cases.get_case(s, actor=a, case_id=w.draft_id),
    "cases.list_meeting_cases": lambda s, a, w: _must_list(
        cases.list_meeting_cases(s, actor=a, meeting_id=w.live_id), w.case_id, lambda r: r.case.id
    ),
    "cases.my_cases:lists_the_case": lambda s, a, w: _must_list(
        cases.my_cases(s, actor=a), w.case_id, lambda r: r.case.id
    ),
    "cases.save_draft:new": lambda s, a, w: cases.save_draft(
        s, actor=a, meeting_id=w.next_id, form=case_form(last_name="Nouveau")
    ),
    "cases.save_draft:update": lambda s, a, w: cases.save_draft(
        s,
        actor=a,
        meeting_id=w.next_id,
        case_id=w.next_case_id,
        form=case_form(last_name="Suivant", question="Quelle dose ?"),
    ),
    "cases.submit": lambda s, a, w: cases.submit(s, actor=a, case_id=w.draft_id),
    "cases.withdraw": lambda s, a, w: cases.withdraw(s, actor=a, case_id=w.next_case_id),
    "attachments.list_attachments": lambda s, a, w: attachments.list_attachments(
        s, actor=a, case_id=w.case_id
    ),
    "attachments.open_attachment": lambda s, a, w: attachments.open_attachment(
        s, actor=a, attachment_id=w.attachment_id
    ),
    "attachments.read_bytes": lambda s, a, w: attachments.read_bytes(
        s, actor=a, attachment_id=w.dicom_id
    ),
    "opinions.key_image_preview": lambda s, a, w: opinions.key_image_preview(
        s, actor=a, case_id=w.case_id, attachment_id=w.dicom_id
    ),
    "meeting_live.lower_hand": lambda s, a, w: meeting_live.lower_hand(
        s, actor=a, meeting_id=w.live_id
    ),
    "directory.get_network": lambda s, a, w: directory.get_network(
        s, actor=a, network_id=w.network_id
    ),
    "directory.get_family": lambda s, a, w: directory.get_family(s, actor=a, family_id=w.family_id),
    "directory.list_rcps": lambda s, a, w: directory.list_rcps(s, actor=a, family_id=w.family_id),
    "attendance.check_can_join": lambda s, a, w: attendance.check_can_join(
        s, actor=a, meeting_id=w.live_id
    ),
    "attachments.dicom_series": lambda s, a, w: attachments.dicom_series(
        s, actor=a, case_id=w.case_id
    ),
    "series_download.series_archive": lambda s, a, w: series_download.series_archive(
        s, actor=a, case_id=w.case_id, series_uid=w.dicom_series_uid, deidentified=True
    ).path.unlink(),
    "attachments.add_upload": lambda s, a, w: attachments.add_upload(
        s, actor=a, case_id=w.next_case_id, name="bilan.pdf", data=pdf_bytes("bilan")
    ),
    "attachments.remove": lambda s, a, w: attachments.remove(
        s, actor=a, attachment_id=w.next_attachment_id
    ),
    "opinions.opinion_page": lambda s, a, w: opinions.opinion_page(s, actor=a, case_id=w.case_id),
    "opinions.opinion_page:draft": lambda s, a, w: opinions.opinion_page(
        s, actor=a, case_id=w.draft_id
    ),
    "opinions.opinion_page:withdrawn": lambda s, a, w: opinions.opinion_page(
        s, actor=a, case_id=w.withdrawn_id
    ),
    "opinions.history:draft": lambda s, a, w: opinions.history(s, actor=a, case_id=w.draft_id),
    "opinions.history:withdrawn": lambda s, a, w: opinions.history(
        s, actor=a, case_id=w.withdrawn_id
    ),
    "opinions.get_sheet:withdrawn": lambda s, a, w: opinions.get_sheet(
        s, actor=a, case_id=w.withdrawn_id
    ),
    "opinions.key_image_candidates:draft": lambda s, a, w: opinions.key_image_candidates(
        s, actor=a, case_id=w.draft_id
    ),
    "opinions.key_image_preview:draft": lambda s, a, w: opinions.key_image_preview(
        s, actor=a, case_id=w.draft_id, attachment_id=w.draft_dicom_id
    ),
    "opinions.quorum:withdrawn": lambda s, a, w: opinions.quorum(
        s, actor=a, case_id=w.withdrawn_id
    ),
    "cases.get_case:withdrawn": lambda s, a, w: cases.get_case(s, actor=a, case_id=w.withdrawn_id),
    "attachments.open_attachment:draft": lambda s, a, w: attachments.open_attachment(
        s, actor=a, attachment_id=w.draft_dicom_id
    ),
    "attachments.view_image": lambda s, a, w: attachments.view_image(
        s, actor=a, attachment_id=w.image_id, viewer="login:1"
    ),
    "attachments.view_dicom": lambda s, a, w: attachments.view_dicom(
        s, actor=a, attachment_id=w.dicom_id, viewer="login:1"
    ),
    "attachments.view_dicom:draft": lambda s, a, w: attachments.view_dicom(
        s, actor=a, attachment_id=w.draft_dicom_id, viewer="login:1"
    ),
    "cases.labs_plot": lambda s, a, w: cases.labs_plot(
        s, actor=a, case_id=w.case_id, viewer="login:1"
    ),
    "opinions.history": lambda s, a, w: opinions.history(s, actor=a, case_id=w.validated_case_id),
    "opinions.get_sheet": lambda s, a, w: opinions.get_sheet(
        s, actor=a, case_id=w.validated_case_id
    ),
    "opinions.save_draft": lambda s, a, w: opinions.save_draft(
        s, actor=a, case_id=w.case_id, proposal="Nouvelle proposition."
    ),
    "opinions.quorum": lambda s, a, w: opinions.quorum(s, actor=a, case_id=w.case_id),
    "opinions.validate": lambda s, a, w: opinions.validate(
        s, actor=a, case_id=w.case_id, quorum_reason="Urgence."
    ),
    "opinions.correct": lambda s, a, w: opinions.correct(
        s, actor=a, case_id=w.validated_case_id, proposal="Correction."
    ),
    "opinions.validate:correction": lambda s, a, w: _validate_correction(s, a, w),
    "opinions.preview_sheet": lambda s, a, w: opinions.preview_sheet(s, actor=a, case_id=w.case_id),
    "opinions.key_image_candidates": lambda s, a, w: opinions.key_image_candidates(
        s, actor=a, case_id=w.case_id
    ),
    "opinions.choose_key_image": lambda s, a, w: opinions.choose_key_image(
        s, actor=a, case_id=w.case_id, attachment_id=None
    ),
    "chat.post_message": lambda s, a, w: chat.post_message(
        s, actor=a, meeting_id=w.live_id, body="Je suis d'accord."
    ),
    "chat.list_messages": lambda s, a, w: chat.list_messages(s, actor=a, meeting_id=w.live_id),
    "meeting_live.live_state": lambda s, a, w: meeting_live.live_state(
        s, actor=a, meeting_id=w.live_id
    ),
    "meeting_live.access": lambda s, a, w: meeting_live.access(s, actor=a, meeting_id=w.live_id),
    "meeting_live.may_enter:holds": lambda s, a, w: _must_hold(
        meeting_live.may_enter(s, actor=a, meeting_id=w.live_id)
    ),
    "meeting_live.present": lambda s, a, w: meeting_live.present(s, actor=a, meeting_id=w.live_id),
    "meeting_live.set_current_case": lambda s, a, w: meeting_live.set_current_case(
        s, actor=a, meeting_id=w.live_id, case_id=w.case_id
    ),
    "meeting_live.raise_hand": lambda s, a, w: meeting_live.raise_hand(
        s, actor=a, meeting_id=w.live_id
    ),
    "meeting_live.clear_hand": lambda s, a, w: meeting_live.clear_hand(
        s, actor=a, meeting_id=w.live_id, user_id=w.users["confirmed"]
    ),
    "meeting_live.close_meeting": lambda s, a, w: meeting_live.close_meeting(
        s, actor=a, meeting_id=w.live_id
    ),
    "meeting_live.reopen_meeting": lambda s, a, w: _reopen(s, a, w),
    "meeting_live.mark_discussed": lambda s, a, w: meeting_live.mark_discussed(
        s, actor=a, case_id=w.case_id
    ),
    "meeting_live.postpone_case": lambda s, a, w: meeting_live.postpone_case(
        s, actor=a, case_id=w.case_id
    ),
    "meeting_live.close_case_without_opinion": lambda s, a, w: (
        meeting_live.close_case_without_opinion(
            s, actor=a, case_id=w.case_id, reason="Dossier incomplet, patient perdu de vue."
        )
    ),
    "attendance.room_info": lambda s, a, w: attendance.room_info(s, actor=a, meeting_id=w.live_id),
    "attendance.record_join": lambda s, a, w: attendance.record_join(
        s, actor=a, meeting_id=w.live_id
    ),
    "attendance.heartbeat": lambda s, a, w: attendance.heartbeat(s, actor=a, meeting_id=w.live_id),
    "attendance.record_leave": lambda s, a, w: attendance.record_leave(
        s, actor=a, meeting_id=w.live_id
    ),
    "attendance.grant_screen": lambda s, a, w: _grant_screen(s, a, w),
    "attendance.withdraw_screen": lambda s, a, w: attendance.withdraw_screen(
        s, actor=a, meeting_id=w.live_id
    ),
    "attendance.may_share_screen:holds": lambda s, a, w: _must_hold(
        attendance.may_share_screen(s, actor=a, meeting_id=w.live_id)
    ),
    "audit.list_events": lambda s, a, w: audit.list_events(s, actor=a),
    "audit.search": lambda s, a, w: audit.search(s, actor=a, spec=audit.AuditFilter()),
    "audit.export_csv": lambda s, a, w: audit.export_csv(s, actor=a, spec=audit.AuditFilter()),
    "audit.case_readers": lambda s, a, w: audit.case_readers(s, actor=a, case_id=w.case_id),
    "audit.rcp_case_access": lambda s, a, w: audit.rcp_case_access(s, actor=a, rcp_id=w.rcp_id),
    "audit.count_rcp_cases": lambda s, a, w: audit.count_rcp_cases(s, actor=a, rcp_id=w.rcp_id),
}


KNOWN_CODE = "246813"


def _confirm_totp(s: Session, actor: Any, w: World) -> object:
    """The actor showed the QR code (a pending secret), then enters the app's first code."""
    secret = pyotp.random_base32()
    if actor is not None:
        actor.totp_pending_secret = secret
        s.add(actor)
        s.commit()
    auth.confirm_totp_enrolment(s, actor=actor, code=pyotp.TOTP(secret).now())
    assert actor.totp_secret == secret
    return actor


def _disable_totp(s: Session, actor: Any, w: World) -> object:
    """The actor uses an authenticator app, then turns it off with its password."""
    if actor is not None:
        actor.totp_secret = pyotp.random_base32()
        s.add(actor)
        s.commit()
    auth.disable_totp(s, actor=actor, password=PASSWORD)
    assert actor.totp_secret is None
    return actor


def _confirm_own_phone_change(s: Session, actor: Any, w: World) -> object:
    """A code was sent for the actor's own request (also for accounts that may not ask, to
    check that confirming is refused by itself), then the actor enters it."""
    owner_id = actor.id if actor is not None else w.target_id
    new_phone = mobile(98)
    challenge = OtpChallenge(
        user_id=owner_id,
        purpose=OtpPurpose.phone_change,
        channel=OtpChannel.sms,
        target_phone=new_phone,
        expires_at=utcnow() + dt.timedelta(minutes=10),
    )
    s.add(challenge)
    s.flush()
    challenge.code_hash = code_hash(challenge.id, KNOWN_CODE)
    s.add(challenge)
    s.commit()
    auth.confirm_phone_change(s, actor=actor, challenge_id=challenge.id, code=KNOWN_CODE)
    assert s.get(User, owner_id).phone == new_phone
    return challenge


def _remove_member(s: Session, actor: Any, w: World, role: str) -> object:
    """Remove the RCP membership row of the user playing ``role`` (a doctor, a coordinator)."""
    member_id = s.exec(
        select(RcpMember.id).where(RcpMember.rcp_id == w.rcp_id, RcpMember.user_id == w.users[role])
    ).one()
    directory.remove_member(s, actor=actor, member_id=member_id)
    assert s.get(RcpMember, member_id) is None
    return member_id


def _validate_correction(s: Session, actor: Any, w: World) -> object:
    """The coordinator opens a correction of the validated opinion; ``actor`` validates it."""
    coordinator = s.get(User, w.users["coordinator"])
    draft = opinions.correct(
        s, actor=coordinator, case_id=w.validated_case_id, proposal="Rectifié."
    )
    validated = opinions.validate(
        s, actor=actor, case_id=w.validated_case_id, quorum_reason="Urgence thérapeutique."
    )
    assert (validated.id, validated.version) == (draft.id, 2) and validated.validated_at
    return validated


def _reactivate(s: Session, actor: Any, w: World) -> object:
    """Disable the target as an admin first, then reactivate it as ``actor``."""
    accounts.disable(s, actor=s.get(User, w.users["admin"]), user_id=w.target_id)
    return accounts.reactivate(s, actor=actor, user_id=w.target_id)


def _grant_screen(s: Session, actor: Any, w: World) -> object:
    """The participant is in the room now (presence expires), then ``actor`` gives the screen."""
    participant = s.get(User, w.users["confirmed"])
    attendance.record_join(s, actor=participant, meeting_id=w.live_id)
    return attendance.grant_screen(
        s, actor=actor, meeting_id=w.live_id, user_id=w.users["confirmed"]
    )


def _reopen(s: Session, actor: Any, w: World) -> object:
    """Close the meeting as its coordinator first, then reopen it as ``actor``."""
    coordinator = s.get(User, w.users["coordinator"])
    meeting_live.close_meeting(s, actor=coordinator, meeting_id=w.live_id)
    return meeting_live.reopen_meeting(s, actor=actor, meeting_id=w.live_id)


# --- the generated tests ---------------------------------------------------------------------


def test_every_action_of_the_matrix_has_a_call_and_every_call_a_row() -> None:
    assert set(CALLS) == set(RULES)


def test_an_admin_who_is_neither_coordinator_nor_participant_reads_no_patient_data() -> None:
    patient = [rule.action for rule in MATRIX if rule.patient_data]
    assert len(patient) > 20
    assert [a for a in patient if "admin" in RULES[a].allowed] == []


def test_pending_and_anonymous_users_may_do_nothing() -> None:
    assert [r.action for r in MATRIX if {"anonymous", "pending"} & r.allowed] == []


def test_reading_a_case_is_limited_to_its_submitter_participants_and_coordinators() -> None:
    assert RULES["cases.get_case"].allowed == CASE_READERS


@pytest.fixture
def fresh(world: World, tmp_path: Path) -> Iterator[Session]:
    """A session on a private copy of the world (database and files)."""
    shutil.copy(world.path, tmp_path / "cell.db")
    shutil.copytree(world.files, config.get_settings().files_dir)
    engine = make_engine(f"sqlite:///{tmp_path / 'cell.db'}")
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


_REFUSALS = (errors.PermissionDenied, errors.NotFound)


def _cells() -> list:
    out = []
    for action, role, may in cells():
        rule = RULES[action]
        marks = [pytest.mark.xfail(strict=True, reason=rule.note)] if role in rule.gaps else []
        out.append(pytest.param(action, role, may, marks=marks, id=f"{action}-{role}-{may}"))
    return out


@pytest.mark.parametrize(("action", "role", "may"), _cells())
def test_permission(fresh: Session, world: World, action: str, role: str, may: bool) -> None:
    """The service allows exactly the relationships of its matrix row."""
    user_id = world.users[role]
    actor = fresh.get(User, user_id) if user_id is not None else None
    refusals = _REFUSALS + tuple(getattr(errors, n) for n in RULES[action].refused_with)
    if may:
        CALLS[action](fresh, actor, world)
    else:
        with pytest.raises(refusals):
            CALLS[action](fresh, actor, world)


def _public_actor_functions() -> set[str]:
    """``module.function`` of every public function of rcp/*.py with an ``actor`` parameter."""
    found = set()
    for info in pkgutil.iter_modules(rcp.__path__):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"rcp.{info.name}")
        for name, obj in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.isfunction(obj)
                and obj.__module__ == module.__name__
                and "actor" in inspect.signature(obj).parameters
            ):
                found.add(f"{info.name}.{name}")
    return found


def test_every_public_service_taking_an_actor_has_a_row_or_a_stated_exemption() -> None:
    functions = _public_actor_functions()
    assert {"cases.get_case", "invites.resend_invite", "auth.disable_totp"} <= functions
    in_matrix = {rule.action.split(":", 1)[0] for rule in MATRIX}
    assert sorted(functions - in_matrix - set(EXEMPT)) == []
    # The table names no function that does not exist (or takes no actor any more)...
    assert sorted(in_matrix - functions) == []
    # ... and exempts none that has a row, none that is gone, none without a reason.
    assert sorted(set(EXEMPT) & in_matrix) == [] and set(EXEMPT) <= functions
    assert all(reason.strip() for reason in EXEMPT.values())


def test_matrix_covers_every_relationship() -> None:
    assert len(cells()) == len(MATRIX) * len(ROLES) and len(ROLES) == 10
    assert len(RULES) == len(MATRIX)  # no action written twice
