"""A meeting's page: when, which RCP, who coordinates, who takes part, and what I may do now."""

import datetime as dt

import streamlit as st

from rcp import cases, directory, i18n, meeting_live, meetings, roles
from rcp.config import get_settings
from rcp.dates import PARIS, format_date, format_datetime, to_paris
from rcp.errors import PermissionDenied, RcpError
from rcp.i18n import N_, _, ngettext
from rcp.meeting_live import LiveState, Phase
from rcp.models import CaseStatus, MeetingStatus, ParticipationStatus
from rcp.ui import chat_panel, failsafe, keys, live_events, navigation
from rcp.ui.case_view import render_case
from rcp.ui.context import current_user, db, flash, require_user, show_error, show_flash
from rcp.ui.links import DIRECTORY_PAGE, breadcrumbs, query_int
from rcp.ui.text import escape_markdown, translated

user = require_user()
show_flash()
meeting_id = query_int("id")

# The live panel reruns when the server says the meeting changed (rcp.events, pushed to the
# page by rcp/ui/live_events); this slow refresh is only a safety net (push channel down).
FALLBACK_SECONDS = 120
CASE_PAGE = "pages/cas.py"
SUBMIT_PAGE = "pages/soumettre_cas.py"
STATUS_BADGES = {
    CaseStatus.submitted: N_(":orange-badge[à discuter]"),
    CaseStatus.discussed: N_(":blue-badge[discuté]"),
    CaseStatus.validated: N_(":green-badge[avis validé]"),
    CaseStatus.closed: N_(":gray-badge[clos sans avis]"),
}


def act(call, success: str, **kwargs) -> None:
    """Run a service with the signed-in user; show its error, or flash and rerun."""
    try:
        with db() as session:
            call(session, actor=session.merge(user), **kwargs)
    except RcpError as error:
        show_error(error)
    else:
        flash(success)
        st.rerun()


def participant_actions(view: meetings.MeetingView) -> None:
    actions = view.actions
    with st.container(horizontal=True, key="seance_actions"):
        if "confirm" in actions and st.button(
            _("Valider ma participation"),
            type="primary",
            key="seance_confirm",
            icon=":material/check:",
        ):
            act(
                meetings.respond,
                _("Votre participation est confirmée."),
                meeting_id=view.meeting.id,
                accept=True,
            )
        if "decline" in actions and st.button(_("Décliner"), key="seance_decline"):
            act(
                meetings.respond,
                _("Vous avez décliné l'invitation."),
                meeting_id=view.meeting.id,
                accept=False,
            )
        if "participate" in actions and st.button(
            _("Participer"), type="primary", key="seance_participate", icon=":material/front_hand:"
        ):
            act(
                meetings.request_participation,
                _("Demande envoyée : les coordinateurs de la RCP vont y répondre."),
                meeting_id=view.meeting.id,
            )
        if "withdraw" in actions and st.button(_("Me désister"), key="seance_withdraw"):
            act(
                meetings.respond,
                _("Vous n'êtes plus inscrit(e) à cette séance."),
                meeting_id=view.meeting.id,
                accept=False,
            )


def participants_block(view: meetings.MeetingView) -> None:
    st.subheader(_("Participants"))
    confirmed = view.count(ParticipationStatus.confirmed)
    st.caption(
        ngettext(
            "{count} participation(s) confirmée(s) · minimum souhaité : {minimum}",
            "{count} participation(s) confirmée(s) · minimum souhaité : {minimum}",
            confirmed,
        ).format(count=confirmed, minimum=view.trail.rcp.min_participants)
    )
    if not view.participants:
        st.caption(_("Personne n'est encore invité."))
    for row in view.participants:
        cols = st.columns([4, 2, 1, 1], vertical_alignment="center")
        cols[0].markdown(
            f"{row.user.display_name} — {roles.qualification(row.user)}, "
            f"{escape_markdown(row.user.institution)}"
        )
        cols[1].markdown(f"*{row.label}*")
        if (
            view.is_coordinator
            and not view.is_past
            and view.meeting.status != MeetingStatus.cancelled
            and row.participation.status == ParticipationStatus.requested
        ):
            if cols[2].button(_("Accepter"), key=f"seance_accept_{row.participation.id}"):
                act(
                    meetings.decide_request,
                    _("Demande de {name} acceptée.").format(name=row.user.display_name),
                    participation_id=row.participation.id,
                    accept=True,
                )
            if cols[3].button(_("Refuser"), key=f"seance_refuse_{row.participation.id}"):
                act(
                    meetings.decide_request,
                    _("Demande de {name} refusée.").format(name=row.user.display_name),
                    participation_id=row.participation.id,
                    accept=False,
                )


def coordinator_tools(view: meetings.MeetingView) -> None:
    meeting = view.meeting
    st.subheader(_("Coordination"))
    with st.expander(_("Inviter des médecins"), icon=":material/forward_to_inbox:"):
        with db() as session:
            members = directory.list_members(
                session, actor=user, rcp_id=meeting.rcp_id, status="active"
            )
        present = {
            row.user.id
            for row in view.participants
            if row.participation.status in ("invited", "confirmed")
        }
        candidates = [m.user for m in members if m.user.id not in present]
        search = st.text_input(
            _("Rechercher un autre médecin (nom ou e-mail)"), key="seance_invite_search"
        )
        if search.strip():
            with db() as session:
                found = directory.search_active_doctors(session, actor=user, search=search)
            known = {u.id for u in candidates}
            candidates += [u for u in found if u.id not in present and u.id not in known]
        labels = {
            u.id: f"{u.display_name} — {roles.qualification(u)}, {u.institution}"
            for u in candidates
        }
        chosen = st.multiselect(
            _("Médecins à inviter"),
            list(labels),
            format_func=labels.get,
            key="seance_invite_choice",
            placeholder=_("Membres de la RCP, ou recherchez ci-dessus"),
        )
        if st.button(
            _("Envoyer les invitations"),
            key="seance_invite_send",
            type="primary",
            disabled=not chosen,
        ):
            sent, errors = 0, []
            for user_id in chosen:
                try:
                    with db() as session:
                        meetings.invite(
                            session,
                            actor=session.merge(user),
                            meeting_id=meeting.id,
                            user_id=user_id,
                        )
                    sent += 1
                except RcpError as error:
                    errors.append(str(error))
            for message in errors:
                st.error(message)
            if sent:
                flash(
                    ngettext(
                        "{count} invitation(s) envoyée(s) par e-mail avec l'invitation de "
                        "calendrier.",
                        "{count} invitation(s) envoyée(s) par e-mail avec l'invitation de "
                        "calendrier.",
                        sent,
                    ).format(count=sent)
                )
                st.rerun()
    with st.expander(_("Modifier la séance"), icon=":material/edit_calendar:"):
        local_start = meeting.starts_at.astimezone(PARIS)
        local_end = meeting.ends_at.astimezone(PARIS)
        local_deadline = meeting.case_deadline.astimezone(PARIS)
        with st.form("seance_edit_form"):
            c1, c2, c3 = st.columns(3)
            day = c1.date_input(
                _("Date"), value=local_start.date(), format="DD/MM/YYYY", key="seance_edit_day"
            )
            start = c2.time_input(_("Début"), value=local_start.time(), key="seance_edit_start")
            end = c3.time_input(_("Fin"), value=local_end.time(), key="seance_edit_end")
            early = st.checkbox(
                _("Date limite de dépôt des cas avant le début"),
                value=meeting.case_deadline < meeting.starts_at,
                key="seance_edit_early",
            )
            d1, d2 = st.columns(2)
            deadline_day = d1.date_input(
                _("Date limite"),
                value=local_deadline.date(),
                format="DD/MM/YYYY",
                key="seance_edit_deadline_day",
            )
            deadline_time = d2.time_input(
                _("Heure limite"), value=local_deadline.time(), key="seance_edit_deadline_time"
            )
            description = st.text_area(
                _("Description courte"),
                value=meeting.description,
                max_chars=2000,
                key="seance_edit_description",
            )
            if st.form_submit_button(_("Enregistrer les modifications")):
                deadline = (
                    dt.datetime.combine(deadline_day, deadline_time, tzinfo=PARIS)
                    if early
                    else None
                )
                act(
                    meetings.update_meeting,
                    _("Séance modifiée ; les invités ont reçu la mise à jour de leur calendrier."),
                    meeting_id=meeting.id,
                    day=day,
                    start=start,
                    end=end,
                    deadline=deadline,
                    description=description,
                )
    with st.expander(_("Annuler la séance"), icon=":material/event_busy:"):
        with st.form("seance_cancel_form"):
            reason = st.text_input(_("Motif (envoyé aux participants)"), key="seance_cancel_reason")
            confirm = st.checkbox(
                _("Je confirme l'annulation de cette séance"), key="seance_cancel_confirm"
            )
            if st.form_submit_button(_("Annuler la séance")):
                if not confirm:
                    st.error(_("Cochez la case de confirmation pour annuler la séance."))
                else:
                    act(
                        meetings.cancel_meeting,
                        _("Séance annulée ; les participants ont été prévenus par e-mail."),
                        meeting_id=meeting.id,
                        reason=reason,
                    )


# --- the meeting itself: room link, cases, current case, hands, presence, chat ---------------


def load_cases(view: meetings.MeetingView) -> list[cases.CaseSummary]:
    """The meeting's cases this user may see (none for someone who may see none)."""
    try:
        with db() as session:
            return cases.list_meeting_cases(session, actor=user, meeting_id=view.meeting.id)
    except PermissionDenied:
        return []


def load_live(view: meetings.MeetingView) -> LiveState | None:
    """The live state, for confirmed participants and coordinators only."""
    try:
        with db() as session:
            return meeting_live.live_state(session, actor=user, meeting_id=view.meeting.id)
    except PermissionDenied:
        return None


def case_label(summary: cases.CaseSummary) -> str:
    case = summary.case
    return f"{case.position}. {case.patient_last_name} {case.patient_first_name}"


def room_links(view: meetings.MeetingView, state: LiveState) -> None:
    meeting = view.meeting
    with st.container(horizontal=True, vertical_alignment="center", key="seance_room_links"):
        if state.phase == Phase.live:
            # A relative URL keeps any base path; st.link_button opens it in a new tab, so
            # this page (cases, chat) stays open beside the video room.
            st.link_button(
                _("Rejoindre la visio-conférence"),
                f"salle?id={meeting.id}",
                type="primary",
                icon=":material/video_call:",
            )
        st.page_link(
            "pages/materiel.py", label=_("Tester mon matériel"), icon=":material/videocam:"
        )
    if state.phase == Phase.before:
        minutes = get_settings().room_open_minutes_before
        st.info(
            _(
                "La salle de visio-conférence ouvrira le {opens} (heure de Paris), {minutes} "
                "minutes avant le début. Vérifiez d'ici là votre caméra et votre micro."
            ).format(opens=format_datetime(meeting_live.opens_at(meeting)), minutes=minutes),
            icon=":material/schedule:",
        )
    elif state.phase == Phase.closed:
        st.info(
            _(
                "La séance est close : la salle de visio-conférence est fermée. Les messages "
                "restent consultables."
            ),
            icon=":material/lock:",
        )


def case_list(view: meetings.MeetingView, summaries: list, state: LiveState | None) -> None:
    st.subheader(_("Cas de la séance"))
    if "submit_case" in view.actions and navigation.has_page(SUBMIT_PAGE):
        st.page_link(
            SUBMIT_PAGE,
            label=_("Soumettre un cas"),
            icon=":material/note_add:",
            query_params={"meeting": view.meeting.id},
        )
    if not summaries:
        st.caption(_("Aucun cas soumis pour l'instant."))
    current = state.current_case_id if state else None
    for summary in summaries:
        case = summary.case
        with st.container(
            horizontal=True, vertical_alignment="center", key=f"seance_case_{case.id}"
        ):
            st.markdown(
                _("**{case}** — soumis par {submitter}").format(
                    case=escape_markdown(case_label(summary)),
                    submitter=escape_markdown(summary.submitter.display_name),
                )
                + " "
                + i18n.label(
                    STATUS_BADGES, CaseStatus(case.status), escape_markdown(summary.status_label)
                )
                + (
                    " " + _(":violet-badge[:material/play_arrow: en cours]")
                    if case.id == current
                    else ""
                )
            )
            if navigation.has_page(CASE_PAGE):
                # A new tab (relative URL, like the room's link): the meeting page, its chat
                # and the current case stay open.
                st.link_button(
                    _("Fiche"),
                    f"cas?id={case.id}",  # i18n: exempt (a URL)
                    icon=":material/open_in_new:",
                    type="tertiary",
                    help=_(
                        "Ouvre la fiche du cas dans un nouvel onglet ; la séance reste ouverte."
                    ),
                )
            if (
                state is not None
                and state.is_coordinator
                and state.phase == Phase.live
                and case.status == CaseStatus.submitted
                and st.button(
                    _("Marquer comme discuté"),
                    key=f"seance_discussed_{case.id}",
                    type="tertiary",
                    icon=":material/task_alt:",
                )
            ):
                act(
                    meeting_live.mark_discussed,
                    _("Cas n° {number} marqué « discuté ».").format(number=case.id),
                    case_id=case.id,
                )


def current_case_selector(view: meetings.MeetingView, summaries: list, state: LiveState) -> None:
    """The coordinator chooses the case everyone's page shows."""
    labels = {
        s.case.id: f"{case_label(s)} ({s.status_label})"
        for s in summaries
        if s.case.status in meeting_live.DISCUSSABLE
    }
    options: list[int | None] = [None, *labels]
    # The key follows the current case so that a change made elsewhere redraws the widget.
    choice = st.selectbox(
        _("Cas en cours (affiché chez tous les participants)"),
        options,
        index=options.index(state.current_case_id) if state.current_case_id in options else 0,
        format_func=lambda case_id: _("— aucun —") if case_id is None else labels[case_id],
        key=f"seance_current_case_{state.current_case_id}",
    )
    if choice != state.current_case_id:
        act(
            meeting_live.set_current_case,
            _("Cas en cours : {case}. Tous les participants le voient.").format(
                case=labels[choice] if choice is not None else _("aucun")
            ),
            meeting_id=view.meeting.id,
            case_id=choice,
        )


def case_viewer(view: meetings.MeetingView, summaries: list, state: LiveState) -> None:
    st.subheader(_("Cas en cours"))
    if state.is_coordinator and state.phase == Phase.live:
        current_case_selector(view, summaries, state)
    unfollow = st.toggle(
        _("Ne plus suivre le cas en cours"),
        key="seance_unfollow",
        help=_(
            "Consultez un autre cas à votre rythme ; réactivez le suivi pour revenir au cas "
            "présenté."
        ),
    )
    if unfollow:
        if not summaries:
            return
        labels = {s.case.id: case_label(s) for s in summaries}
        chosen = st.selectbox(
            _("Cas à consulter"), list(labels), format_func=labels.get, key="seance_browse_case"
        )
        render_case(user, chosen, key_prefix="seance_browse")
    elif state.current_case_id is None:
        st.caption(_("Aucun cas n'est présenté pour l'instant."))
    else:
        with st.container(border=True, key="seance_current_case_sheet"):
            render_case(user, state.current_case_id, key_prefix="seance_current")


def pending_cases(view: meetings.MeetingView, summaries: list) -> None:
    """The cases still without an outcome, each to postpone or to close without opinion."""
    pending = [s for s in summaries if s.case.status in meeting_live.PENDING]
    if not pending:
        st.success(
            _("Chaque cas de la séance a un avis validé ou a été clos sans avis."),
            icon=":material/task_alt:",
        )
        return
    with db() as session:
        following = meeting_live.next_meeting(session, view.meeting)
    st.warning(
        ngettext(
            "**{count} cas sans avis validé.** Pour chacun : reportez-le à la séance suivante, "
            "ou closez-le sans avis en indiquant le motif. Un cas laissé ainsi reste « à "
            "discuter » dans cette séance.",
            "**{count} cas sans avis validé.** Pour chacun : reportez-le à la séance suivante, "
            "ou closez-le sans avis en indiquant le motif. Un cas laissé ainsi reste « à "
            "discuter » dans cette séance.",
            len(pending),
        ).format(count=len(pending)),
        icon=":material/pending_actions:",
    )
    st.caption(
        _("Séance suivante de la RCP : {when} (heure de Paris).").format(
            when=format_datetime(following.starts_at)
        )
        if following is not None
        else _(
            "Aucune séance suivante n'est programmée pour cette RCP : programmez-la depuis "
            "la page de la RCP pour pouvoir y reporter des cas."
        )
    )
    for summary in pending:
        case = summary.case
        with st.container(
            border=True,
            horizontal=True,
            vertical_alignment="center",
            key=f"seance_pending_{case.id}",
        ):
            st.markdown(
                f"**{escape_markdown(case_label(summary))}** — "
                f"{escape_markdown(summary.status_label)}"
            )
            if st.button(
                _("Reporter à la séance suivante"),
                key=f"seance_postpone_{case.id}",
                icon=":material/event_repeat:",
                disabled=following is None,
            ):
                act(
                    meeting_live.postpone_case,
                    _(
                        "Cas n° {number} reporté à la séance suivante ; le médecin demandeur est "
                        "prévenu par e-mail."
                    ).format(number=case.id),
                    case_id=case.id,
                )
            with st.popover(_("Clore sans avis"), icon=":material/block:"):
                reason = st.text_area(
                    _("Motif de la clôture sans avis (consigné)"),
                    key=f"seance_close_reason_{case.id}",
                    max_chars=2000,
                )
                if st.button(
                    _("Confirmer la clôture sans avis"), key=f"seance_close_case_{case.id}"
                ):
                    act(
                        meeting_live.close_case_without_opinion,
                        _(
                            "Cas n° {number} clos sans avis ; le médecin demandeur est prévenu "
                            "par e-mail."
                        ).format(number=case.id),
                        case_id=case.id,
                        reason=reason,
                    )


def close_controls(view: meetings.MeetingView, summaries: list, state: LiveState) -> None:
    if state.phase == Phase.live:
        with st.expander(_("Clore la séance"), icon=":material/stop_circle:"):
            pending_cases(view, summaries)
            confirm = st.checkbox(
                _("Je clos la séance : la salle de visio-conférence et la messagerie ferment"),
                key="seance_close_confirm",
            )
            if st.button(_("Clore la séance"), key="seance_close", disabled=not confirm):
                act(meeting_live.close_meeting, _("Séance close."), meeting_id=view.meeting.id)
    elif state.phase == Phase.closed and any(
        s.case.status in meeting_live.PENDING for s in summaries
    ):
        st.subheader(_("Cas sans avis validé"))
        pending_cases(view, summaries)
    if state.status == MeetingStatus.closed and state.phase == Phase.closed:
        meeting = view.meeting
        if meeting_live.utcnow() < meeting.ends_at + meeting_live.OVERRUN_GRACE and st.button(
            _("Rouvrir la séance"), key="seance_reopen", icon=":material/lock_open:"
        ):
            act(meeting_live.reopen_meeting, _("Séance rouverte."), meeting_id=meeting.id)


def presence_block(state: LiveState) -> None:
    st.markdown(_("**Présents dans la salle ({count})**").format(count=len(state.present)))
    if not state.present:
        st.caption(_("Personne n'est dans la salle de visio-conférence pour l'instant."))
    for person in state.present:
        st.markdown(
            f"{escape_markdown(person.name)} — {escape_markdown(translated(person.specialty))}",
            help=person.institution,
        )


def hands_block(me, state: LiveState) -> None:
    if state.phase != Phase.live:
        return
    meeting_id = state.meeting_id
    if state.is_participant:
        label, call, icon = (
            (_("Baisser la main"), meeting_live.lower_hand, ":material/do_not_touch:")
            if state.my_hand_raised
            else (_("Lever la main"), meeting_live.raise_hand, ":material/front_hand:")
        )
        st.button(
            label,
            key="seance_hand",
            icon=icon,
            on_click=live_action,
            args=(call, me),
            kwargs={"meeting_id": meeting_id},
        )
    if not state.hands:
        return
    st.markdown(_("**Mains levées ({count})**").format(count=len(state.hands)))
    for hand in state.hands:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(
                f":material/front_hand: {escape_markdown(hand.name)} · "
                f"{to_paris(hand.raised_at):%H:%M}"
            )
            if state.is_coordinator:
                st.button(
                    _("Donner la parole"),
                    key=f"seance_clear_hand_{hand.user_id}",
                    type="tertiary",
                    on_click=live_action,
                    args=(meeting_live.clear_hand, me),
                    kwargs={"meeting_id": meeting_id, "user_id": hand.user_id},
                )


def live_action(call, me, **kwargs) -> None:
    """A click in the live panel (a callback: it runs before the panel reads the new state)."""
    try:
        with db() as session:
            call(session, actor=session.merge(me), **kwargs)
    except RcpError as error:
        st.session_state[keys.SEANCE_LIVE_ERROR] = str(error)
    except Exception as error:  # noqa: BLE001 - a callback's crash must not reach Streamlit's box
        st.session_state[keys.SEANCE_LIVE_ERROR] = failsafe.message(
            N_("Cette action"),
            failsafe.report(error, "seance.live_action"),
            failed=failsafe.NOT_DONE,
        )


@st.fragment(run_every=FALLBACK_SECONDS)
@failsafe.guarded(N_("Le panneau de la séance (présents, mains levées, messagerie)"))
def live_panel(meeting_id: int, drawn: tuple, live: bool) -> None:
    """Presence, hands and chat, redrawn as soon as the meeting changes (pushed, not polled).

    ``drawn`` is the page signature the whole page was drawn for: when another user changes
    something the rest of the page shows (current case, statuses), the whole app reruns.
    """
    live_events.listen("seance_live_events", meeting_id=meeting_id)
    # Following a live meeting is activity: a participant who only listens for an hour must not
    # be signed out mid-meeting. Outside the live window a poll is not activity, so a
    # forgotten open tab still signs out after the idle limit.
    me = current_user(touch=live)
    if me is None:
        st.rerun(scope="app")
    try:
        with db() as session:
            state = meeting_live.live_state(session, actor=me, meeting_id=meeting_id)
    except RcpError:
        st.rerun(scope="app")
    if state.page_signature != drawn:
        st.rerun(scope="app")
    presence_block(state)
    error = st.session_state.pop(keys.SEANCE_LIVE_ERROR, None)
    if error:
        st.error(error, icon=":material/error:")
    hands_block(me, state)
    st.subheader(_("Messagerie instantanée"))
    chat_panel.render(
        me, meeting_id, can_post=state.phase == Phase.live, last_id=state.last_message_id or 0
    )


def live_section(view: meetings.MeetingView, summaries: list, state: LiveState) -> None:
    st.divider()
    room_links(view, state)
    left, right = st.columns([3, 2], gap="large")
    # Each part fails alone: a case that cannot be drawn leaves the chat, the hands and
    # "Clore la séance" working for everyone.
    with left:
        with failsafe.section(N_("La liste des cas")):
            case_list(view, summaries, state)
        if state.phase == Phase.live or state.current_case_id is not None:
            with failsafe.section(N_("Le cas en cours")):
                case_viewer(view, summaries, state)
        if state.is_coordinator:
            with failsafe.section(N_("La clôture de la séance")):
                close_controls(view, summaries, state)
    with right:
        live_panel(view.meeting.id, state.page_signature, state.phase == Phase.live)


def render(view: meetings.MeetingView) -> None:
    meeting = view.meeting
    breadcrumbs(view.trail, here=_("séance du {day}").format(day=format_date(meeting.starts_at)))
    st.title(view.title)
    if meeting.status == MeetingStatus.cancelled:
        st.error(_("Cette séance est annulée."), icon=":material/event_busy:")
    state = load_live(view) if meeting.status != MeetingStatus.cancelled else None
    if view.is_past and meeting.status != MeetingStatus.cancelled:
        if state is None or state.phase != Phase.live:
            st.info(
                _("Séance close : consultation seule.")
                if meeting.status == MeetingStatus.closed
                else _("Séance passée : consultation seule."),
                icon=":material/history:",
            )
    end = meeting.ends_at.astimezone(PARIS).strftime("%H:%M")
    st.markdown(
        _("**Date :** {start} – {end} (heure de Paris)").format(
            start=format_datetime(meeting.starts_at), end=end
        )
        + "  \n"
        + _("**RCP :** {rcp} · famille {family} · filière {network}").format(
            rcp=view.trail.rcp.name,
            family=view.trail.family.name,
            network=view.trail.network.code,
        )
        + "  \n"
        + _("**Coordination :** {coordinators}").format(
            coordinators=", ".join(
                f"{c.user.display_name} ({roles.role_label(c.member.role, c.user)})"
                for c in view.coordinators
            )
            or "—"
        )
        + "  \n"
        + _("**Dépôt des cas jusqu'au :** {deadline}").format(
            deadline=format_datetime(meeting.case_deadline)
        )
    )
    if meeting.description:
        st.caption(meeting.description)
    if view.mine is not None:
        st.markdown(
            _("**Votre statut :** {status}").format(
                status=meetings.participation_label(view.mine.status, user)
            )
        )
    elif view.is_coordinator:
        st.markdown(
            roles.by_form(
                user,
                _("**Votre statut :** coordinatrice de la RCP"),
                _("**Votre statut :** coordinateur de la RCP"),
            )
        )
    participant_actions(view)
    summaries = load_cases(view)
    if state is not None:
        live_section(view, summaries, state)
    elif summaries or "submit_case" in view.actions:
        with failsafe.section(N_("La liste des cas")):
            case_list(view, summaries, None)
    with failsafe.section(N_("La liste des participants")):
        participants_block(view)
    if view.is_coordinator and "manage" in view.actions:
        with failsafe.section(N_("Les outils de coordination")):
            coordinator_tools(view)


if meeting_id is None:
    st.error(_("Aucune séance indiquée."))
    st.page_link(DIRECTORY_PAGE, label=_("Parcourir les RCP"), icon=":material/account_tree:")
else:
    try:
        with db() as session:
            view = meetings.meeting_view(session, actor=user, meeting_id=meeting_id)
    except RcpError as error:
        show_error(error)
        st.page_link(DIRECTORY_PAGE, label=_("Parcourir les RCP"), icon=":material/account_tree:")
    else:
        render(view)
