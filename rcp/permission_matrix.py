"""Who may call which service: the permission matrix, one table (tests are generated from it).

Each row names a service call (``module.function``, with the object it is called on), the
relationships that may make it, and whether it reveals patient data. Every other relationship
must be refused with ``PermissionDenied`` or ``NotFound`` (``NotFound`` where an id must not
reveal that a case exists). ``tests/unit/test_permission_matrix.py`` runs every cell against
the real services on a fresh copy of one populated platform.

The relationships, relative to one RCP, its running meeting and a case submitted to it:

=================  ===========================================================================
anonymous          nobody signed in (``actor=None``)
pending            registered, account not yet validated by an admin
stranger           active doctor with no link to the RCP ("doctor not member")
member             member of the RCP (role doctor), not invited, no case
invited            invited to the meeting, has not confirmed
confirmed          confirmed participant of the meeting
submitter          member of the RCP who submitted the case (not a participant)
other_coordinator  assistant of another RCP
coordinator        assistant of this RCP
admin              platform admin, neither coordinator nor participant
=================  ===========================================================================

Every public function of ``rcp/*.py`` that takes an ``actor`` has at least one row, or is
listed in ``EXEMPT`` with the reason; a test fails when a new one is in neither. A variant
after ``:`` names the object or case the row is about (``:other_user``, ``:draft``...).
Predicates (``may_*``, ``can_*``, ``is_*``) answer with a bool instead of raising: their
``:holds`` row lists the relationships for which they answer True.

Directory membership: the RCP's coordinators add and remove its members (role doctor);
admins name coordinators (``set_role``) and are the only ones to remove one. An admin who
does not coordinate an RCP neither adds nor removes its doctors.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = (
    "anonymous",
    "pending",
    "stranger",
    "member",
    "invited",
    "confirmed",
    "submitter",
    "other_coordinator",
    "coordinator",
    "admin",
)
ACTIVE = frozenset(ROLES) - {"anonymous", "pending"}
ADMIN = frozenset({"admin"})
COORDINATOR = frozenset({"coordinator"})
ANY_COORDINATOR = frozenset({"coordinator", "other_coordinator"})
# Those who see the submitted case: its submitter, the meeting's confirmed participants and
# the RCP's coordinators. Not an admin as such.
CASE_READERS = frozenset({"submitter", "confirmed", "coordinator"})
# Those in the meeting's room (video, chat, current case, hands).
IN_ROOM = frozenset({"confirmed", "coordinator"})
# Those who may change a case before the deadline: its submitter and the RCP's coordinators.
CASE_EDITORS = frozenset({"submitter", "coordinator"})
RCP_MEMBERS = frozenset({"member", "submitter", "coordinator"})


@dataclass(frozen=True)
class Rule:
    """One service call and the relationships allowed to make it."""

    action: str  # "module.function" or "module.function:variant"
    allowed: frozenset[str]
    patient_data: bool = False  # the call returns or changes identified health data
    note: str = ""
    # Besides PermissionDenied and NotFound, the errors.* names a refusal may also be (a state
    # that makes the call meaningless for that relationship, e.g. "already a member").
    refused_with: tuple[str, ...] = ()
    # Relationships for which the code does not (yet) do what the row says, explained in
    # ``note``: their tests are expected failures, which fail loudly once the code is fixed.
    gaps: frozenset[str] = frozenset()

    @property
    def module(self) -> str:
        return self.action.split(".", 1)[0]


MATRIX: tuple[Rule, ...] = (
    # --- accounts (admins) ---------------------------------------------------------------------
    Rule("accounts.list_pending", ADMIN),
    Rule("accounts.count_pending", ADMIN),
    Rule("accounts.approve", ADMIN),
    Rule("accounts.reject", ADMIN),
    Rule("accounts.list_users", ADMIN),
    Rule("accounts.count_users", ADMIN),
    Rule("accounts.disable", ADMIN),
    Rule("accounts.reactivate", ADMIN),
    Rule("accounts.reset_second_factor", ADMIN),
    Rule("accounts.unlock", ADMIN),
    Rule("accounts.set_profession", ADMIN, note="only physicians are addressed as Dr"),
    Rule("accounts.read_outbox", ADMIN),
    Rule("accounts.count_outbox", ADMIN),
    Rule("accounts.update_profile", ACTIVE, note="one's own profile"),
    Rule("accounts.set_language", ACTIVE, note="one's own language"),
    # --- auth sessions -----------------------------------------------------------------------
    Rule("auth.list_sessions", ACTIVE, note="one's own sessions"),
    Rule("auth.list_sessions:other_user", ADMIN),
    Rule("auth.end_session:other_user", ADMIN, note="one's own, or anyone's for an admin"),
    Rule("auth.end_all_sessions", ADMIN),
    Rule("auth.change_password", ACTIVE),
    Rule("auth.begin_totp_enrolment", ACTIVE),
    Rule("auth.confirm_totp_enrolment", ACTIVE, note="one's own account"),
    Rule("auth.disable_totp", ACTIVE, note="one's own account, with its password"),
    Rule("auth.request_phone_change", ACTIVE, note="one's own account, with its password"),
    Rule("auth.confirm_phone_change", ACTIVE, note="the code sent for one's own request"),
    Rule(
        "auth.confirm_phone_change:other_user",
        frozenset(),
        note="nobody confirms the phone change another user asked for",
    ),
    # --- registration invitations ------------------------------------------------------------
    Rule("invites.create_invite", ANY_COORDINATOR | ADMIN),
    Rule("invites.list_invites", ANY_COORDINATOR | ADMIN),
    Rule("invites.list_invite_rows", ANY_COORDINATOR | ADMIN),
    Rule(
        "invites.resend_invite",
        COORDINATOR | ADMIN,
        note="an invitation the RCP's coordinator sent: its sender, or any admin",
    ),
    Rule(
        "invites.revoke_invite",
        COORDINATOR | ADMIN,
        note="an invitation the RCP's coordinator sent: its sender, or any admin",
    ),
    Rule("invites.invite_for_user", ADMIN, note="context of a pending registration"),
    Rule("invites.invite_context", ADMIN, note="context of a pending registration"),
    Rule("invites.invite_contexts", ADMIN, note="the same for a page of registrations"),
    # --- directory -----------------------------------------------------------------------------
    Rule("directory.list_networks", ACTIVE),
    Rule("directory.list_families", ACTIVE),
    Rule("directory.get_network", ACTIVE),
    Rule("directory.get_family", ACTIVE),
    Rule("directory.list_rcps", ACTIVE),
    Rule("directory.get_rcp", ACTIVE),
    Rule("directory.list_members", ACTIVE),
    Rule("directory.my_membership", ACTIVE, note="one's own membership row"),
    Rule("directory.is_rcp_member:holds", RCP_MEMBERS),
    Rule("directory.can_manage:holds", COORDINATOR),
    Rule("directory.create_network", ADMIN),
    Rule("directory.create_family", ADMIN),
    Rule("directory.create_rcp", ADMIN),
    Rule("directory.update_rcp", ADMIN),
    Rule("directory.set_role", ADMIN),
    # Members (role doctor) are the RCP's coordinators' business: they add and remove them.
    # Coordinators are the admins' business: named with set_role, removed only by an admin.
    # An admin who does not coordinate the RCP neither adds nor removes its doctors.
    Rule("directory.add_member", COORDINATOR, note="a doctor"),
    Rule("directory.remove_member", COORDINATOR, note="a doctor"),
    Rule("directory.remove_member:coordinator", ADMIN, note="an assistant or referent"),
    Rule(
        "directory.request_membership",
        ACTIVE - RCP_MEMBERS,
        note="members are told they already are",
        refused_with=("Conflict",),
    ),
    Rule("directory.decide_membership", COORDINATOR),
    Rule("directory.search_active_doctors", ANY_COORDINATOR | ADMIN),
    # --- meetings ------------------------------------------------------------------------------
    Rule("meetings.list_meetings", ACTIVE),
    Rule("meetings.meeting_view", ACTIVE, note="logistics only, no case"),
    Rule("meetings.home", ACTIVE),
    Rule("meetings.schedule_meeting", COORDINATOR),
    Rule("meetings.update_meeting", COORDINATOR),
    Rule("meetings.cancel_meeting", COORDINATOR),
    Rule("meetings.invite", COORDINATOR),
    Rule(
        "meetings.respond",
        frozenset({"invited"}),
        note="only the invited answers",
        refused_with=("Conflict",),
    ),
    Rule(
        "meetings.respond:decline",
        frozenset({"invited", "confirmed"}),
        note="the invited decline, the confirmed withdraw; others are told they have no invitation",
        refused_with=("Conflict",),
    ),
    Rule(
        "meetings.request_participation",
        ACTIVE - {"invited", "confirmed", "coordinator"},
        note="those already invited or confirmed, and coordinators, are told why",
        refused_with=("Conflict",),
    ),
    Rule("meetings.decide_request", COORDINATOR),
    # --- cases -----------------------------------------------------------------------------------
    Rule("cases.get_case", CASE_READERS, patient_data=True),
    Rule("cases.visible_case", CASE_READERS, patient_data=True, note="the check behind reads"),
    Rule("cases.editable_case", CASE_EDITORS, patient_data=True, note="the check behind edits"),
    Rule("cases.may_edit:holds", CASE_EDITORS),
    Rule("cases.get_case:draft", frozenset({"submitter"}), patient_data=True),
    Rule("cases.get_case:withdrawn", frozenset({"submitter"}), patient_data=True),
    Rule("cases.list_meeting_cases", CASE_READERS, patient_data=True, note="lists the case"),
    Rule("cases.my_cases:lists_the_case", frozenset({"submitter"}), patient_data=True),
    Rule("cases.count_my_cases", ACTIVE, note="one's own cases"),
    Rule("cases.labs_plot", CASE_READERS, patient_data=True),
    Rule("cases.save_draft:new", RCP_MEMBERS, patient_data=True),
    Rule("cases.save_draft:update", CASE_EDITORS, patient_data=True),
    Rule("cases.submit", frozenset({"submitter"}), patient_data=True, note="a draft"),
    Rule("cases.withdraw", CASE_EDITORS, patient_data=True),
    # --- attachments ---------------------------------------------------------------------------
    Rule("attachments.list_attachments", CASE_READERS, patient_data=True),
    Rule("attachments.open_attachment", CASE_READERS, patient_data=True),
    Rule("attachments.read_bytes", CASE_READERS, patient_data=True),
    Rule("attachments.open_attachment:draft", frozenset({"submitter"}), patient_data=True),
    # What pages show through the authenticated routes (rcp/web_files.py).
    Rule("attachments.view_image", CASE_READERS, patient_data=True),
    Rule("attachments.view_dicom", CASE_READERS, patient_data=True),
    Rule("attachments.view_dicom:draft", frozenset({"submitter"}), patient_data=True),
    Rule("attachments.dicom_series", CASE_READERS, patient_data=True),
    Rule("series_download.series_archive", CASE_READERS, patient_data=True),
    Rule("attachments.add_upload", CASE_EDITORS, patient_data=True),
    Rule("attachments.remove", CASE_EDITORS, patient_data=True),
    # --- opinions --------------------------------------------------------------------------------
    Rule("opinions.opinion_page", CASE_READERS, patient_data=True),
    Rule("opinions.history", CASE_READERS, patient_data=True),
    Rule("opinions.get_sheet", CASE_READERS, patient_data=True),
    Rule("opinions.save_draft", COORDINATOR, patient_data=True),
    Rule("opinions.quorum", COORDINATOR),
    Rule("opinions.validate", COORDINATOR, patient_data=True),
    Rule("opinions.correct", COORDINATOR, patient_data=True),
    Rule(
        "opinions.validate:correction",
        COORDINATOR,
        patient_data=True,
        note="a correction of a validated opinion, validated again (version 2)",
    ),
    Rule("opinions.preview_sheet", COORDINATOR, patient_data=True),
    Rule("opinions.key_image_candidates", COORDINATOR, patient_data=True),
    Rule("opinions.choose_key_image", COORDINATOR, patient_data=True),
    Rule("opinions.key_image_preview", COORDINATOR, patient_data=True),
    # A draft or a withdrawn case is its submitter's alone, on every page: the opinion page,
    # its history and sheet, and the coordinators' tools answer like an unknown id.
    Rule("opinions.opinion_page:draft", frozenset({"submitter"}), patient_data=True),
    Rule("opinions.opinion_page:withdrawn", frozenset({"submitter"}), patient_data=True),
    Rule("opinions.history:draft", frozenset({"submitter"}), patient_data=True),
    Rule("opinions.history:withdrawn", frozenset({"submitter"}), patient_data=True),
    Rule(
        "opinions.get_sheet:withdrawn",
        frozenset(),
        patient_data=True,
        note="a withdrawn case has no sheet: nobody gets one, the submitter is told so",
    ),
    Rule(
        "opinions.key_image_candidates:draft",
        frozenset(),
        patient_data=True,
        note="no opinion is written on a draft: coordinators do not see its images",
    ),
    Rule("opinions.key_image_preview:draft", frozenset(), patient_data=True),
    Rule("opinions.quorum:withdrawn", frozenset()),
    # --- chat ------------------------------------------------------------------------------------
    Rule("chat.post_message", IN_ROOM, patient_data=True),
    Rule("chat.list_messages", IN_ROOM, patient_data=True),
    # --- the running meeting -------------------------------------------------------------------
    Rule("meeting_live.live_state", IN_ROOM, patient_data=True),
    Rule("meeting_live.access", IN_ROOM),
    Rule("meeting_live.may_enter:holds", IN_ROOM),
    Rule("meeting_live.present", IN_ROOM),
    Rule("meeting_live.set_current_case", COORDINATOR),
    Rule(
        "meeting_live.raise_hand",
        frozenset({"confirmed"}),
        note="coordinators are told hands are for participants",
        refused_with=("Conflict",),
    ),
    Rule("meeting_live.lower_hand", frozenset({"confirmed"}), refused_with=("Conflict",)),
    Rule("meeting_live.clear_hand", COORDINATOR),
    Rule("meeting_live.close_meeting", COORDINATOR),
    Rule("meeting_live.reopen_meeting", COORDINATOR),
    # what becomes of each case: discussed, postponed to the next meeting, closed without opinion
    Rule("meeting_live.mark_discussed", COORDINATOR, patient_data=True),
    Rule("meeting_live.postpone_case", COORDINATOR, patient_data=True),
    Rule("meeting_live.close_case_without_opinion", COORDINATOR, patient_data=True),
    # --- video room attendance -----------------------------------------------------------------
    Rule("attendance.check_can_join", IN_ROOM),
    Rule("attendance.room_info", IN_ROOM),
    Rule("attendance.record_join", IN_ROOM),
    Rule("attendance.heartbeat", IN_ROOM),
    Rule("attendance.record_leave", IN_ROOM),
    Rule("attendance.grant_screen", COORDINATOR),
    Rule("attendance.withdraw_screen", COORDINATOR),
    Rule(
        "attendance.may_share_screen:holds",
        frozenset({"confirmed"}),
        note="only the participant a coordinator gave the screen to (the coordinator too "
        "must be given it)",
    ),
    # --- the audit log -------------------------------------------------------------------------
    Rule("audit.search", ADMIN),
    Rule("audit.list_events", ADMIN),
    Rule("audit.export_csv", ADMIN),
    Rule("audit.case_readers", COORDINATOR, note="names who opened a patient's file"),
    Rule("audit.rcp_case_access", COORDINATOR, patient_data=True),
    Rule("audit.count_rcp_cases", COORDINATOR),
)

RULES: dict[str, Rule] = {rule.action: rule for rule in MATRIX}

# Public service functions taking an ``actor`` that have no row, each with the reason. Only
# for a function whose refusals are entirely those of rows above (e.g. a thin wrapper); keep
# it empty where a row can be written.
EXEMPT: dict[str, str] = {}


def allowed(action: str, role: str) -> bool:
    """Whether the matrix lets ``role`` make the call ``action``."""
    return role in RULES[action].allowed


def cells() -> list[tuple[str, str, bool]]:
    """Every (action, role, allowed) cell, in table order."""
    return [(rule.action, role, role in rule.allowed) for rule in MATRIX for role in ROLES]
