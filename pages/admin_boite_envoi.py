"""Administration: the outbox (emails and SMS kept here while no transport is configured)."""

import streamlit as st

from rcp import accounts, i18n
from rcp.config import get_settings
from rcp.dates import format_datetime
from rcp.i18n import N_, _
from rcp.ui import paging
from rcp.ui.context import db, require_admin_page
from rcp.ui.text import escape_markdown

PAGE_SIZE = 20
STATUS_LABELS = {
    "outbox": N_("conservé ici (aucun transport configuré)"),
    "queued": N_("en attente d'envoi"),
    "sending": N_("envoi en cours"),
    "sent": N_("envoyé"),
    "failed": N_("échec de l'envoi"),
}


def _status(message) -> str:  # noqa: ANN001 - an OutboxMessage read for display
    label = i18n.label(STATUS_LABELS, str(message.status))
    if message.status == "sending" and message.claimed_at is not None:
        label += _(" depuis {when}").format(when=format_datetime(message.claimed_at))
    if message.attempts > 1:
        label += _(" · {count} tentatives").format(count=message.attempts)
    return label


admin = require_admin_page()
settings = get_settings()
st.title(_("Boîte d'envoi"))
st.caption(
    _(
        "Les codes à usage unique et les liens personnels (connexion, réinitialisation, "
        "inscription) sont masqués : la boîte d'envoi montre qu'ils ont été envoyés, à qui et "
        "quand, sans permettre d'agir à la place du destinataire."
    )
)
st.caption(
    _("E-mails : {email} · SMS : {sms}").format(
        email=_("serveur SMTP configuré") if settings.smtp_configured else _("conservés ici"),
        sms=_("passerelle configurée") if settings.sms_configured else _("conservés ici"),
    )
)

to = st.text_input(_("Destinataire (e-mail ou numéro au format +33…)"), key="outbox_to").strip()
with db() as session:
    total = accounts.count_outbox(session, actor=admin, to=to or None)
    page = paging.current_page(total, key="outbox", size=PAGE_SIZE, reset_on=to)
    messages = accounts.read_outbox(
        session, actor=admin, to=to or None, limit=page.limit, offset=page.offset
    )

if not messages:
    st.info(_("Aucun message pour ce destinataire.") if to else _("Aucun message."))
paging.controls(page, key="outbox")
for message in messages:
    icon = "✉️" if message.channel == "email" else "📱"
    title = escape_markdown(message.subject or (message.body or "")[:60])
    with st.expander(
        f"{icon} {format_datetime(message.created_at)} · {escape_markdown(message.to)} · {title}"
    ):
        st.caption(
            _("Statut : {status}").format(status=_status(message))
            + (f" · {escape_markdown(message.error)}" if message.error else "")
        )
        st.text(message.body or _("(contenu remis au transport, non conservé)"))
        for attachment in message.attachments or []:
            st.caption(_("Pièce jointe : {name}").format(name=attachment["filename"]))
paging.controls(page, key="outbox", where="bas")
