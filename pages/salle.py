"""A meeting's video room, in its own tab: it joins by itself, one connection, everyone's grid."""

import secrets

import streamlit as st

from rcp import attendance
from rcp.errors import RcpError
from rcp.i18n import N_, _
from rcp.rtc import media_hub
from rcp.ui import keys, room_client
from rcp.ui.context import db, require_user, show_error
from rcp.ui.links import MEETING_PAGE, query_int

ROOM_KEY = "salle_room"
POLL_S = 3.0
SCREEN_NOTICE = N_("Ne partagez pas votre écran si l'assistant ne vous y invite pas.")
ROOM_HINT = N_(
    "Vous entrez dans la salle dès l'ouverture de cet onglet, avec les choix faits dans "
    "« Tester mon matériel » ou la dernière fois (caméra ou non, appareils) : changez-les avec "
    "« Caméra et micro… ». Sans caméra, les autres voient vos initiales."
)

user = require_user()
hub = media_hub()


def _meeting_id() -> int | None:
    # Read from the URL once: a rerun triggered by the server may come without the query.
    from_url = query_int("id")
    if from_url is not None:
        st.session_state[keys.SALLE_MEETING] = from_url
    return st.session_state.get(keys.SALLE_MEETING)


meeting_id = _meeting_id()
# This tab's name: the component's seats are "<tab>:<iframe>:<attempt>"; a seat of another tab
# takes the user's place over (rcp.room.hub.MediaHub.join_room).
tab = st.session_state.setdefault(keys.SALLE_TAB, secrets.token_hex(8))


def _md(text: str) -> str:
    """A user-typed name as plain text inside markdown."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]<>()#+-.!|~" else c for c in text)


def _act(call, **kwargs) -> None:
    """A coordinator's button (a callback: the list then renders the new state)."""
    try:
        with db() as session:
            call(session, actor=session.merge(user), meeting_id=meeting_id, **kwargs)
    except RcpError as error:
        st.session_state[keys.SALLE_PANEL_ERROR] = str(error)


def _sync_screen(presenter: int | None) -> None:
    """Only the presenter the coordinator chose may be shown: end any other share."""
    for key in hub.presenters(meeting_id):
        if key != presenter:
            hub.stop_screen(meeting_id, key)
    room = hub.rooms.get(meeting_id)
    if room is not None and room.screen_owner not in (None, presenter):
        room.revoke_screen()


def _live_panel() -> None:
    """Every few seconds: rights and meeting state, screen-share sync, the participant list."""
    try:
        with db() as session:
            now_info = attendance.room_info(
                session, actor=session.merge(user), meeting_id=meeting_id
            )
    except RcpError as error:
        # Meeting closed, or rights withdrawn: the seat ends with the reason, the page says it.
        hub.kick(meeting_id, user.id, str(error))
        st.rerun(scope="app")
    presenter = now_info.presenter_id
    _sync_screen(presenter)
    seen = st.session_state.get(keys.SALLE_PRESENTER)
    if presenter != seen:
        st.session_state[keys.SALLE_PRESENTER] = presenter
        if user.id in (presenter, seen):
            st.rerun(scope="app")  # the share button appears or goes (full runs only)

    room = hub.rooms.get(meeting_id)
    people = room.participants() if room is not None else []
    st.subheader(_("Participants ({count})").format(count=len(people)))
    panel_error = st.session_state.pop(keys.SALLE_PANEL_ERROR, None)
    if panel_error:
        st.error(panel_error, icon=":material/error:")
    if not people:
        st.caption(_("Personne n'est encore dans la salle."))
    for person in people:
        tags = []
        if person.key == user.id:
            tags.append(_("vous"))
        if person.muted:
            tags.append(_("micro coupé"))
        if person.camera_off:
            tags.append(_("sans caméra"))
        if person.sharing_screen:
            tags.append(_("partage son écran"))
        elif person.key == presenter:
            tags.append(_("autorisé(e) à partager son écran"))
        line = f"**{_md(person.name)}**" + (f"  \n*{', '.join(tags)}*" if tags else "")
        with st.container(border=True, key=f"salle_person_{person.key}"):
            st.markdown(line)
            if not now_info.is_coordinator:
                continue
            if person.key == presenter:
                st.button(
                    _("Retirer"),
                    key=f"salle_withdraw_{person.key}",
                    on_click=_act,
                    args=(attendance.withdraw_screen,),
                )
            else:
                st.button(
                    _("Autoriser le partage d'écran"),
                    key=f"salle_grant_{person.key}",
                    on_click=_act,
                    args=(attendance.grant_screen,),
                    kwargs={"user_id": int(person.key)},
                )


st.title(_("Salle de visioconférence"))
if meeting_id is None:
    st.error(_("Aucune séance indiquée : ouvrez la salle depuis la page de la séance."))
    st.stop()
try:
    with db() as session:
        room_info = attendance.room_info(session, actor=session.merge(user), meeting_id=meeting_id)
except RcpError as error:
    # Closed, cancelled or rights withdrawn while in the room: the seat ends with the reason.
    room = hub.rooms.get(meeting_id)
    if room is not None and user.id in room:
        hub.kick(meeting_id, user.id, str(error))
    show_error(error)
    st.page_link(MEETING_PAGE, label=_("Page de la séance"), query_params={"id": meeting_id})
    st.stop()

st.caption(
    _(
        "{meeting} — la page de la séance (cas, messagerie) reste ouverte dans l'autre onglet."
    ).format(meeting=room_info.title)
)
st.session_state[keys.SALLE_PRESENTER] = room_info.presenter_id
left, right = st.columns([3, 1], gap="medium")
with left:
    room_client.room(
        ROOM_KEY,
        meeting_id=meeting_id,
        tab=tab,
        may_share=room_info.presenter_id == user.id,
    )
    if room_info.presenter_id == user.id:
        st.success(
            _(
                "L'assistant(e) vous invite à partager votre écran : cliquez sur « Partager "
                "mon écran » ; il s'affichera en grand chez tous les participants."
            ),
            icon=":material/screen_share:",
        )
    else:
        st.caption(_(SCREEN_NOTICE))
    st.caption(_(ROOM_HINT))
    st.page_link("pages/materiel.py", label=_("Tester mon matériel"), icon=":material/build:")
with right:
    st.fragment(_live_panel, run_every=POLL_S)()
