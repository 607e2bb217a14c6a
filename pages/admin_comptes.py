"""Administration: accounts (disable, reactivate, unlock, reset second factor, end sessions)."""

import streamlit as st

from rcp import accounts, auth, roles
from rcp.dates import format_datetime
from rcp.errors import RcpError
from rcp.i18n import N_, _, ngettext
from rcp.models import Profession, UserStatus, utcnow
from rcp.ui import paging
from rcp.ui.context import db, flash, require_admin_page, show_error, show_flash
from rcp.ui.text import escape_markdown
from rcp.validation import mask_phone

STATUS_LABELS = {
    UserStatus.pending: N_("en attente"),
    UserStatus.active: N_("actif"),
    UserStatus.rejected: N_("refusé"),
    UserStatus.disabled: N_("désactivé"),
}

PAGE_SIZE = 20

admin = require_admin_page()
show_flash()
st.title(_("Comptes"))

search_col, status_col = st.columns([3, 1])
search = search_col.text_input(_("Rechercher (nom, prénom, e-mail)"), key="comptes_search")
# The options are the labels themselves (in the page's language): the choice reads back as one.
status_label = status_col.selectbox(
    _("Statut"), [_("tous"), *map(_, STATUS_LABELS.values())], key="comptes_status"
)
status = next((s for s, label in STATUS_LABELS.items() if _(label) == status_label), None)

with db() as session:
    total = accounts.count_users(session, actor=admin, search=search, status=status)
    page = paging.current_page(total, key="comptes", size=PAGE_SIZE, reset_on=(search, status))
    users = accounts.list_users(
        session, actor=admin, search=search, status=status, limit=page.limit, offset=page.offset
    )


def _act(action, user_id: int, message: str) -> None:
    try:
        with db() as session:
            action(session, actor=session.merge(admin), user_id=user_id)
    except RcpError as error:
        show_error(error)
    else:
        flash(message)
        st.rerun()


if not users:
    st.info(_("Aucun compte ne correspond à cette recherche."))
else:
    st.caption(
        ngettext("{count} compte(s) trouvé(s).", "{count} compte(s) trouvé(s).", total).format(
            count=total
        )
    )
paging.controls(page, key="comptes")
now = utcnow()
for user in users:
    locked = user.locked_until is not None and user.locked_until > now
    with st.expander(
        f"{user.last_name.upper()} {user.first_name} — "
        + _(STATUS_LABELS[UserStatus(user.status)])
        + (_(" · administrateur") if user.is_admin else "")
        + (_(" · bloqué") if locked else "")
    ):
        st.markdown(
            f"{escape_markdown(user.email)} · {mask_phone(user.phone)} · "
            f"{escape_markdown(roles.qualification(user))}, "
            f"{escape_markdown(user.institution)}  \n"
            + _(
                "Inscrit le {registered} · dernière connexion {signed_in} · application "
                "d'authentification : {totp}"
            ).format(
                registered=format_datetime(user.created_at),
                signed_in=format_datetime(user.last_sign_in_at),
                totp=_("oui") if user.totp_secret else _("non"),
            )
        )
        professions = list(roles.PROFESSION_CHOICES)
        with st.form(f"comptes_profession_form_{user.id}", border=False):
            chosen = st.selectbox(
                _("Profession (seuls les médecins sont appelés « Dr »)"),
                professions,
                index=professions.index(Profession(user.profession)),
                format_func=lambda p: _(roles.PROFESSION_CHOICES[p]),
                key=f"comptes_profession_{user.id}",
            )
            if st.form_submit_button(_("Enregistrer la profession")):
                try:
                    with db() as session:
                        accounts.set_profession(
                            session, actor=session.merge(admin), user_id=user.id, profession=chosen
                        )
                except RcpError as error:
                    show_error(error)
                else:
                    flash(_("Profession de {name} enregistrée.").format(name=user.full_name))
                    st.rerun()
        # One horizontal container, not four columns: fewer elements per account.
        with st.container(horizontal=True):
            if user.status == UserStatus.active and user.id != admin.id:
                if st.button(_("Désactiver"), key=f"comptes_disable_{user.id}"):
                    _act(
                        accounts.disable,
                        user.id,
                        _("Compte de {name} désactivé.").format(name=user.full_name),
                    )
            if user.status == UserStatus.disabled:
                if st.button(_("Réactiver"), key=f"comptes_reactivate_{user.id}"):
                    _act(
                        accounts.reactivate,
                        user.id,
                        _("Compte de {name} réactivé.").format(name=user.full_name),
                    )
            if locked and st.button(_("Débloquer"), key=f"comptes_unlock_{user.id}"):
                _act(
                    accounts.unlock,
                    user.id,
                    _("Compte de {name} débloqué.").format(name=user.full_name),
                )
            if user.totp_secret and st.button(
                _("Réinitialiser le 2e facteur"), key=f"comptes_reset2fa_{user.id}"
            ):
                _act(
                    accounts.reset_second_factor,
                    user.id,
                    _("Application d'authentification de {name} retirée.").format(
                        name=user.full_name
                    ),
                )
            if st.button(_("Fermer ses sessions"), key=f"comptes_end_sessions_{user.id}"):
                _act(
                    auth.end_all_sessions,
                    user.id,
                    _("Sessions de {name} fermées.").format(name=user.full_name),
                )
paging.controls(page, key="comptes", where="bas")
