"""A case's page (?id=): the sheet, the files and the DICOM viewer; the submitter's actions."""

import streamlit as st

from rcp import cases, opinions
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.models import CaseStatus
from rcp.ui import case_view, navigation, protected
from rcp.ui.context import db, flash, require_user, show_error, show_flash
from rcp.ui.links import query_int

user = require_user()
show_flash()
case_id = query_int("id")

st.title(_("Fiche patient"))
if case_id is None:
    st.error(_("Aucun cas indiqué."))
    st.page_link("pages/mes_cas.py", label=_("Mes cas"), icon=":material/folder_shared:")
    st.stop()

case = case_view.render_case(user, case_id, key_prefix="cas")
if case is None:
    st.page_link("pages/mes_cas.py", label=_("Mes cas"), icon=":material/folder_shared:")
    st.stop()

with db() as session:
    editable = cases.may_edit(session, actor=user, case=case)
    # The case was already checked visible above: the opinion's summary line may be shown.
    validated = opinions.latest_validated(session, case.id)
    validated_line = opinions.validation_line(session, validated) if validated else None
if validated is not None:
    with st.container(border=True, key="cas_validated_opinion"):
        st.success(
            _("{line} (version {version}).").format(line=validated_line, version=validated.version),
            icon=":material/verified:",
        )
        if validated.follows_guidelines is False:
            st.warning(_("Proposition hors recommandations"), icon=":material/warning:")
        st.markdown(_("**Proposition de la RCP**"))
        st.text(validated.proposal or "—")  # shown literally, as the sheet prints it
        # The sheet leaves through an authenticated, audited route (never /media).
        st.link_button(
            _("Télécharger la fiche"),
            protected.sheet_url(case.id),  # type: ignore[arg-type]
            type="primary",
            icon=":material/download:",
        )
        st.caption(
            _(
                "Empreinte SHA-256 de la fiche : `{fingerprint}` — elle permet de vérifier une "
                "copie imprimée."
            ).format(fingerprint=validated.sheet_sha256)
        )
st.divider()
with st.container(horizontal=True):
    case_view.meeting_link(case)
    if navigation.has_page("pages/avis.py") and case.status in (
        CaseStatus.submitted,
        CaseStatus.discussed,
        CaseStatus.validated,
    ):
        st.page_link(
            "pages/avis.py",
            label=_("Avis RCP"),
            query_params={"case": case.id},
            icon=":material/gavel:",
        )
    if editable:
        st.page_link(
            "pages/soumettre_cas.py",
            label=_("Modifier le cas"),
            query_params={"case": case.id},
            icon=":material/edit:",
        )
if editable and case.status == CaseStatus.draft:
    st.info(_("Ce cas est un brouillon : il n'est visible que par vous."))
    if st.button(_("Soumettre le cas"), type="primary", key="cas_submit"):
        try:
            with db() as session:
                cases.submit(session, actor=session.merge(user), case_id=case.id)
        except RcpError as error:
            show_error(error)
        else:
            flash(_("Cas soumis à la RCP."))
            st.rerun()
if editable and case.status == CaseStatus.submitted:
    with st.popover(_("Retirer ce cas de la séance"), icon=":material/remove_circle:"):
        st.write(_("Le cas ne sera plus présenté à la RCP."))
        if st.button(_("Confirmer le retrait"), key="cas_withdraw"):
            try:
                with db() as session:
                    cases.withdraw(session, actor=session.merge(user), case_id=case.id)
            except RcpError as error:
                show_error(error)
            else:
                flash(_("Cas retiré de la séance."))
                st.rerun()
