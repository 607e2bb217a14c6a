"""A meeting's video room, in its own tab: one connection, everyone's grid, the others' mix."""

import secrets
import time

import streamlit as st

from rcp import attendance
from rcp.errors import RcpError
from rcp.room import NotInRoom, Room, audio_sink, video_sink
from rcp.ui import keys, room_page, screen_share, webrtc
from rcp.ui.context import db, engine, require_user, show_error
from rcp.ui.links import MEETING_PAGE, query_int

STREAM_KEY = "salle_stream"
SCREEN_KEY = "salle_screen"
MUTE_KEY = "salle_mute"
CAMERA_OFF_KEY = "salle_camera_off"
NO_CAMERA_KEY = "salle_no_camera"
POLL_S = 3.0
# A connection still negotiating after this long is stuck (seen now and then on loaded
# machines: the browser's offer never gets its answer); the page starts a fresh one, at most
# CONNECT_ATTEMPTS times. Waiting for the camera permission is not negotiating: no retry.
CONNECT_STALL_S = 20.0
CONNECT_ATTEMPTS = 3
HEARTBEAT_S = 20.0  # attendance.HEARTBEAT_SECONDS is the promise: at most 30 s between touches
# The room's picture is 640×480 for everyone (rcp.room): with two or more people a camera
# fills at most a 316-pixel-wide tile of it, so a 320×240 capture loses nothing on screen and
# costs the server a quarter of the decoding and of the incoming packets of 640×480.
VIDEO_CONSTRAINTS = {
    "width": {"ideal": 320},
    "height": {"ideal": 240},
    "frameRate": {"ideal": 15},
}
SCREEN_NOTICE = "Ne partagez pas votre écran si l'assistant ne vous y invite pas."
# streamlit-webrtc keeps the devices chosen in its form in localStorage for the whole site, and
# the room's component asks for them (tests/e2e/test_device_choice_browser.py).
DEVICE_CHOICE_HINT = (
    "Plusieurs caméras ou micros ? Choisissez-les dans « Tester mon matériel » (bouton « Choisir "
    "la caméra et le micro ») : ce navigateur retient votre choix et la salle l'utilise."
)

user = require_user()


def _meeting_id() -> int | None:
    # Read from the URL once: a rerun triggered by the server may come without the query.
    from_url = query_int("id")
    if from_url is not None:
        st.session_state[keys.SALLE_MEETING] = from_url
    return st.session_state.get(keys.SALLE_MEETING)


meeting_id = _meeting_id()
# This tab's seat: a second tab of the same user takes the seat over (rcp.room.Room.join).
# A retried connection is a new seat too, so a stuck attempt that connects late feeds nothing.
tab = st.session_state.setdefault(keys.SALLE_SEAT, secrets.token_hex(8))
attempt = int(st.session_state.get(keys.SALLE_ATTEMPT, 0))
seat = f"{tab}-{attempt}"
stream_key = STREAM_KEY if attempt == 0 else f"{STREAM_KEY}_{attempt}"


def _leave_now(notice: str | None = None) -> None:
    """Out of the room (memory and database) and back to the lobby."""
    if meeting_id is not None:
        room_page.leave(engine(), meeting_id, user.id, seat)
    st.session_state[keys.SALLE_ENTERED] = False
    st.session_state[keys.SALLE_ATTENDING] = False
    st.session_state.pop(keys.SALLE_SCREEN_ANSWER, None)
    if notice:
        st.session_state[keys.SALLE_NOTICE] = notice


def _step_back() -> None:
    """Another tab took this user's seat: this one goes back to the lobby, without leaving."""
    st.session_state[keys.SALLE_ENTERED] = False
    st.session_state[keys.SALLE_ATTENDING] = False
    st.session_state[keys.SALLE_NOTICE] = (
        "Vous avez rejoint la salle depuis un autre onglet ou appareil : vous y êtes toujours. "
        "Cliquez sur « Rejoindre la salle » pour la reprendre ici."
    )


def _enter() -> None:
    # The toggle's value as the browser sent it with this click, not as it was when the button
    # was drawn: "sans caméra" then "Rejoindre" clicked quickly (before the rerun of the toggle
    # finished) would otherwise open the camera the user had just declined.
    st.session_state[keys.SALLE_ENTERED] = True
    st.session_state[keys.SALLE_AUDIO_ONLY] = bool(st.session_state.get(NO_CAMERA_KEY))
    st.session_state[keys.SALLE_ATTENDING] = False


def _quit() -> None:
    _leave_now("Vous avez quitté la salle.")


def _on_stream_change() -> None:
    """The browser's stream started or stopped: record the join or the leave."""
    context = st.session_state.get(stream_key)
    if context is None or meeting_id is None:
        return
    state = context.state
    attending = st.session_state.get(keys.SALLE_ATTENDING, False)
    if state.playing and st.session_state.get(keys.SALLE_ENTERED) and not attending:
        try:
            with db() as session:
                attendance.record_join(session, actor=session.merge(user), meeting_id=meeting_id)
        except RcpError as error:
            _leave_now(str(error))
            return
        st.session_state[keys.SALLE_ATTENDING] = True
        st.session_state[keys.SALLE_LAST_BEAT] = time.monotonic()
    elif not state.playing and not state.signalling and attending:
        _leave_now(
            "La connexion à la salle s'est interrompue. Cliquez sur « Rejoindre la salle » "
            "pour revenir."
        )


def _apply_flags() -> None:
    room = room_page.registry().get(meeting_id)
    if room is None:
        return
    audio_only = st.session_state.get(keys.SALLE_AUDIO_ONLY, False)
    try:
        room.set_muted(user.id, bool(st.session_state.get(MUTE_KEY)))
        room.set_camera_off(user.id, audio_only or bool(st.session_state.get(CAMERA_OFF_KEY)))
    except NotInRoom:
        pass  # the next run joins again with these flags


def _stream(room: Room | None, *, audio_only: bool, playing: bool):
    """The one SENDRECV connection: camera and microphone in, the grid and the mix out."""
    options = {}
    if room is not None:
        video_out, audio_out = room.outgoing_tracks(user.id)
        rooms, screens, eng, uid, mid, this_seat = (
            room_page.registry(),
            room_page.receivers(),
            engine(),
            user.id,
            meeting_id,
            seat,
        )
        options = {
            "source_video_track": video_out,
            "source_audio_track": audio_out,
            "video_sink": None if audio_only else video_sink(room, user.id, seat),
            "audio_sink": audio_sink(room, user.id, seat),
            "on_sink_ended": lambda: room_page.leave_from_media_loop(
                rooms, screens, eng, mid, uid, this_seat
            ),
        }
    return webrtc.streamer(
        stream_key,
        media_stream_constraints={
            "video": False if audio_only else VIDEO_CONSTRAINTS,
            "audio": True,
        },
        desired_playing_state=playing,
        video_html_attrs={
            "autoPlay": True,
            "controls": False,
            "muted": False,  # the mix of the others' voices comes with the picture
            "style": {"width": "100%", "borderRadius": "8px", "background": "#101216"},
        },
        on_change=_on_stream_change,
        **options,
    )


def _lobby() -> None:
    notice = st.session_state.pop(keys.SALLE_NOTICE, None)
    if notice:
        st.info(notice, icon=":material/info:")
    st.markdown(
        "La salle montre tous les participants, vous compris, avec leur nom, et vous fait "
        "entendre la voix des autres. La caméra est facultative : sans caméra, les autres "
        "voient vos initiales."
    )
    no_camera = st.toggle("Participer sans caméra (micro seul)", key=NO_CAMERA_KEY)
    st.button(
        "Rejoindre la salle",
        type="primary",
        key="salle_enter",
        icon=":material/videocam:" if not no_camera else ":material/mic:",
        on_click=_enter,
    )
    st.page_link(
        "pages/materiel.py", label="Tester mon matériel avant d'entrer", icon=":material/build:"
    )
    st.caption(DEVICE_CHOICE_HINT)


def _answer_screen_offer(room: Room) -> dict[str, str] | None:
    """Answer the share component's offer (or close on its stop) once per message."""
    value = st.session_state.get(SCREEN_KEY)
    done = st.session_state.get(keys.SALLE_SCREEN_ANSWER) or {}
    if not isinstance(value, dict) or not value.get("nonce"):
        return done.get("answer")
    marker = f"{value.get('state')}:{value['nonce']}"
    if done.get("handled") == marker:
        return done.get("answer")
    answer = done.get("answer")
    if value.get("state") == "offer" and value.get("sdp"):
        with db() as session:
            allowed = attendance.may_share_screen(
                session, actor=session.merge(user), meeting_id=meeting_id
            )
        if allowed:
            receiver = room_page.receivers().for_presenter(meeting_id, user.id, room)
            sdp = webrtc.run_on_media_loop(receiver.accept(value["sdp"]))
            answer = {"nonce": value["nonce"], "sdp": sdp}
    elif value.get("state") == "stopped":
        room_page.stop_screen(meeting_id, user.id)
        answer = None
    st.session_state[keys.SALLE_SCREEN_ANSWER] = {"handled": marker, "answer": answer}
    return answer


def _screen_block(room: Room, info: attendance.RoomInfo) -> None:
    if info.presenter_id != user.id:
        st.caption(SCREEN_NOTICE)
        return
    st.success(
        "L'assistant(e) vous invite à partager votre écran : il s'affichera en grand chez tous "
        "les participants.",
        icon=":material/screen_share:",
    )
    answer = _answer_screen_offer(room)
    screen_share.component(SCREEN_KEY, answer=answer, rtc_configuration=webrtc.rtc_configuration())


def _md(text: str) -> str:
    """A user-typed name as plain text inside markdown."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]<>()#+-.!|~" else c for c in text)


def _retry_stuck_connection(attending: bool) -> None:
    """A stream negotiating for CONNECT_STALL_S: start a new one (new key, new seat)."""
    context = st.session_state.get(stream_key)
    stalled = (
        st.session_state.get(keys.SALLE_ENTERED)
        and not attending
        and context is not None
        and context.state.signalling
        and not context.state.playing
    )
    if not stalled:
        st.session_state.pop(keys.SALLE_STALLED_SINCE, None)
        return
    since = st.session_state.setdefault(keys.SALLE_STALLED_SINCE, time.monotonic())
    if time.monotonic() - since < CONNECT_STALL_S:
        return
    if attempt + 1 >= CONNECT_ATTEMPTS:
        st.warning(
            "La connexion à la salle n'aboutit pas. Vérifiez votre connexion au réseau, puis "
            "fermez cet onglet et rouvrez la salle depuis la page de la séance ; si cela "
            "persiste, contactez le support de la plateforme.",
            icon=":material/wifi_off:",
        )
        return
    st.session_state[keys.SALLE_ATTEMPT] = attempt + 1
    st.session_state.pop(keys.SALLE_STALLED_SINCE, None)
    st.rerun(scope="app")


def _act(call, **kwargs) -> None:
    """A coordinator's button (a callback: the list then renders the new state)."""
    try:
        with db() as session:
            call(session, actor=session.merge(user), meeting_id=meeting_id, **kwargs)
    except RcpError as error:
        st.session_state[keys.SALLE_PANEL_ERROR] = str(error)


def _live_panel(info: attendance.RoomInfo) -> None:
    """Every few seconds: presence upkeep, heartbeat, screen-share sync, the participant list."""
    rooms = room_page.registry()
    room = rooms.get(meeting_id)
    if room is not None:
        for gone in room.prune_idle(max_idle_s=room_page.PRUNE_IDLE_S):
            room_page.stop_screen(meeting_id, gone.key)
            room_page.record_leave(engine(), meeting_id, int(gone.key))
    attending = st.session_state.get(keys.SALLE_ATTENDING, False)
    if attending and room_page.seat_elsewhere(rooms, meeting_id, user.id, seat):
        _step_back()
        st.rerun(scope="app")
    _retry_stuck_connection(attending)
    if attending and (room is None or user.id not in room):
        _leave_now(
            "Vous avez été déconnecté(e) de la salle : le serveur ne recevait plus ni image ni "
            "son. Cliquez sur « Rejoindre la salle » pour revenir."
        )
        st.rerun(scope="app")
    try:
        with db() as session:
            actor = session.merge(user)
            now_info = attendance.room_info(session, actor=actor, meeting_id=meeting_id)
            last = st.session_state.get(keys.SALLE_LAST_BEAT, 0.0)
            if attending and time.monotonic() - last >= HEARTBEAT_S:
                if attendance.heartbeat(session, actor=actor, meeting_id=meeting_id) is None:
                    attendance.record_join(session, actor=actor, meeting_id=meeting_id)
                st.session_state[keys.SALLE_LAST_BEAT] = time.monotonic()
    except RcpError as error:
        _leave_now(str(error))
        st.rerun(scope="app")
    presenter = now_info.presenter_id
    if room is not None:
        for key in room_page.receivers().presenters(meeting_id):
            if key != presenter:
                room_page.stop_screen(meeting_id, key)
        if room.screen_owner not in (None, presenter):
            room.revoke_screen()
    seen = st.session_state.get(keys.SALLE_PRESENTER)
    if presenter != seen:
        st.session_state[keys.SALLE_PRESENTER] = presenter
        if user.id in (presenter, seen):
            st.rerun(scope="app")  # the share control appears or goes (full runs only)

    people = room.participants() if room is not None else []
    st.subheader(f"Participants ({len(people)})")
    panel_error = st.session_state.pop(keys.SALLE_PANEL_ERROR, None)
    if panel_error:
        st.error(panel_error, icon=":material/error:")
    if not people:
        st.caption("Personne n'est encore dans la salle.")
    for person in people:
        tags = []
        if person.key == user.id:
            tags.append("vous")
        if person.muted:
            tags.append("micro coupé")
        if person.camera_off:
            tags.append("sans caméra")
        if person.sharing_screen:
            tags.append("partage son écran")
        elif person.key == presenter:
            tags.append("autorisé(e) à partager son écran")
        line = f"**{_md(person.name)}**" + (f"  \n*{', '.join(tags)}*" if tags else "")
        with st.container(border=True, key=f"salle_person_{person.key}"):
            st.markdown(line)
            if not now_info.is_coordinator:
                continue
            if person.key == presenter:
                st.button(
                    "Retirer",
                    key=f"salle_withdraw_{person.key}",
                    on_click=_act,
                    args=(attendance.withdraw_screen,),
                )
            else:
                st.button(
                    "Autoriser le partage d'écran",
                    key=f"salle_grant_{person.key}",
                    on_click=_act,
                    args=(attendance.grant_screen,),
                    kwargs={"user_id": int(person.key)},
                )


def _room(info: attendance.RoomInfo) -> None:
    audio_only = bool(st.session_state.get(keys.SALLE_AUDIO_ONLY))
    rooms = room_page.registry()
    if room_page.seat_elsewhere(rooms, meeting_id, user.id, seat):
        if st.session_state.get(keys.SALLE_ATTENDING):
            _step_back()  # lost the seat to another tab: only "Rejoindre" takes it back
            st.rerun()
        room_page.stop_screen(meeting_id, user.id)  # a share from the other tab ends
    room = rooms.join(
        meeting_id,
        user.id,
        user.display_name,
        muted=bool(st.session_state.get(MUTE_KEY)),
        camera_off=audio_only or bool(st.session_state.get(CAMERA_OFF_KEY)),
        seat=seat,
    )
    st.session_state[keys.SALLE_PRESENTER] = info.presenter_id
    left, right = st.columns([3, 1], gap="medium")
    with left:
        context = _stream(room, audio_only=audio_only, playing=True)
        if not context.state.playing:
            st.info(
                "Connexion à la salle… Autorisez l'accès "
                + ("au micro" if audio_only else "à la caméra et au micro")
                + " si le navigateur le demande.",
                icon=":material/hourglass_top:",
            )
        with st.container(horizontal=True, key="salle_controls"):
            st.toggle("Couper mon micro", key=MUTE_KEY, on_change=_apply_flags)
            st.toggle(
                "Couper ma caméra",
                key=CAMERA_OFF_KEY,
                on_change=_apply_flags,
                disabled=audio_only,
                help="Vous participez sans caméra." if audio_only else None,
            )
            st.button(
                "Quitter la salle", key="salle_leave", icon=":material/call_end:", on_click=_quit
            )
        _screen_block(room, info)
    with right:
        st.fragment(_live_panel, run_every=POLL_S)(info)


st.title("Salle de visioconférence")
if meeting_id is None:
    st.error("Aucune séance indiquée : ouvrez la salle depuis la page de la séance.")
    st.stop()
try:
    with db() as session:
        room_info = attendance.room_info(session, actor=session.merge(user), meeting_id=meeting_id)
except RcpError as error:
    if st.session_state.get(keys.SALLE_ENTERED):
        _leave_now()
    show_error(error)
    st.page_link(MEETING_PAGE, label="Page de la séance", query_params={"id": meeting_id})
    if stream_key in st.session_state:
        _stream(None, audio_only=True, playing=False)  # stop a stream that was running
    st.stop()

st.caption(
    f"{room_info.title} — la page de la séance (cas, messagerie) reste ouverte dans l'autre onglet."
)
if st.session_state.get(keys.SALLE_ENTERED):
    _room(room_info)
else:
    _lobby()
    if stream_key in st.session_state:  # after leaving: keep the component, stopped
        _stream(None, audio_only=bool(st.session_state.get(keys.SALLE_AUDIO_ONLY)), playing=False)
