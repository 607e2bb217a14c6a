"""Administration: the queue of registrations to approve or reject."""

import streamlit as st

from rcp import accounts, invites, roles
from rcp.dates import format_date, format_datetime, to_paris
from rcp.errors import RcpError
from rcp.i18n import _, ngettext, pgettext
from rcp.ui import paging
from rcp.ui.context import db, flash, require_admin_page, show_error, show_flash
from rcp.ui.text import escape_markdown

PAGE_SIZE = 10
REFUSING = "inscriptions_refusing"  # id of the request whose refusal form is open


def _refusing(user_id: int | None) -> None:
    st.session_state[REFUSING] = user_id


admin = require_admin_page()
show_flash()
st.title(_("Inscriptions à valider"))

with db() as session:
    total = accounts.count_pending(session, actor=admin)
    page = paging.current_page(total, key="inscriptions", size=PAGE_SIZE)
    pending = accounts.list_pending(session, actor=admin, limit=page.limit, offset=page.offset)
    # The invitation each request came with, if any: context for the decision.
    contexts = invites.invite_contexts(session, actor=admin, users=pending)

if not pending:
    st.info(_("Aucune inscription en attente."), icon=":material/done_all:")
else:
    st.caption(
        ngettext(
            "{count} inscription(s) en attente, la plus ancienne en premier.",
            "{count} inscription(s) en attente, la plus ancienne en premier.",
            total,
        ).format(count=total)
    )
paging.controls(page, key="inscriptions")

for user in pending:
    with st.container(border=True, key=f"inscriptions_card_{user.id}"):
        st.markdown(
            f"**{user.last_name.upper()} {user.first_name}** — {roles.qualification(user)}, "
            f"{escape_markdown(user.institution)}  \n{escape_markdown(user.email)} · "
            + _("RPPS : {rpps} · demande du {when}").format(
                rpps=user.rpps or _("non renseigné"), when=format_datetime(user.created_at)
            )
        )
        context = contexts.get(user.id)
        if context is not None:
            st.markdown(
                ":material/forward_to_inbox: "
                + _("Invité par **{inviter}** le {day}").format(
                    inviter=context.inviter_name,
                    day=format_date(to_paris(context.invite.created_at).date()),
                )
            )
            if context.invite.message:
                st.text(_("Message : « {message} »").format(message=context.invite.message))
        # Buttons in one horizontal container; the refusal form is drawn only for the
        # request being refused (not a popover per request): fewer elements per rerun.
        with st.container(horizontal=True):
            if st.button(
                pgettext("approve a registration", "Valider"),
                key=f"inscriptions_approve_{user.id}",
                type="primary",
                icon=":material/check:",
            ):
                try:
                    with db() as session:
                        accounts.approve(session, actor=session.merge(admin), user_id=user.id)
                except RcpError as error:
                    show_error(error)
                else:
                    flash(
                        _("Inscription de {name} validée ; un e-mail lui a été envoyé.").format(
                            name=user.full_name
                        )
                    )
                    st.rerun()
            st.button(
                _("Refuser"),
                key=f"inscriptions_reject_{user.id}",
                icon=":material/close:",
                on_click=_refusing,
                args=(user.id,),
                disabled=st.session_state.get(REFUSING) == user.id,
            )
        if st.session_state.get(REFUSING) == user.id:
            with st.form(f"inscriptions_reject_form_{user.id}"):
                reason = st.text_area(
                    _("Motif du refus (envoyé au demandeur)"),
                    key=f"inscriptions_reason_{user.id}",
                    max_chars=1000,
                )
                with st.container(horizontal=True):
                    confirmed = st.form_submit_button(_("Confirmer le refus"), type="primary")
                    st.form_submit_button(_("Annuler"), on_click=_refusing, args=(None,))
            if confirmed:
                try:
                    with db() as session:
                        accounts.reject(
                            session, actor=session.merge(admin), user_id=user.id, reason=reason
                        )
                except RcpError as error:
                    show_error(error)
                else:
                    st.session_state.pop(REFUSING, None)
                    flash(
                        _("Inscription de {name} refusée ; un e-mail lui a été envoyé.").format(
                            name=user.full_name
                        )
                    )
                    st.rerun()
paging.controls(page, key="inscriptions", where="bas")
