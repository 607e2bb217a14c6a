"""The procedure's equipment prerequisites, the browser check and the support contacts."""

from __future__ import annotations

import streamlit as st

from rcp.config import get_settings
from rcp.i18n import N_, _
from rcp.media_check import BrowserCheck, Verdict, check_browser
from rcp.ui.context import user_agent

IE_WARNING = N_(
    "N'utilisez pas Internet Explorer : ce navigateur n'est pas compatible avec la "
    "plateforme. Utilisez Google Chrome ou Mozilla Firefox."
)


def is_unsupported_browser(agent: str) -> bool:
    """Internet Explorer (MSIE or Trident) and the old Edge cannot run the platform."""
    return check_browser(agent).verdict == Verdict.unsupported


def current_browser() -> BrowserCheck:
    """The visitor's browser, from the User-Agent header of this session's request."""
    return check_browser(user_agent())


def _label(check: BrowserCheck) -> str:
    return f"{check.name} {check.version}" if check.version else check.name or _("inconnu")


def browser_warning(*, confirm_ok: bool = False) -> None:
    """Warn about a browser the platform does not support; with ``confirm_ok``, also say when
    the browser is fine (the equipment check page)."""
    check = current_browser()
    if check.verdict == Verdict.unsupported:
        message = _(IE_WARNING)
        if not check.is_internet_explorer:
            message = _(
                "Votre navigateur ({browser}) n'est pas compatible avec la plateforme. "
                "Utilisez Google Chrome ou Mozilla Firefox. N'utilisez pas Internet Explorer."
            ).format(browser=_label(check))
        st.error(message, icon=":material/block:")
    elif check.verdict == Verdict.outdated:
        st.warning(
            _(
                "Votre navigateur ({browser}) est trop ancien pour la visioconférence : "
                "mettez-le à jour, ou utilisez une version récente de Google Chrome ou de "
                "Mozilla Firefox."
            ).format(browser=_label(check)),
            icon=":material/update:",
        )
    elif check.verdict == Verdict.untested and confirm_ok:
        st.info(
            _(
                "Navigateur détecté : {browser}. La procédure recommande Google Chrome ou "
                "Mozilla Firefox ; en cas de problème pendant la RCP, changez de navigateur."
            ).format(browser=_label(check)),
            icon=":material/info:",
        )
    elif check.verdict == Verdict.ok and confirm_ok:
        st.success(
            _("Navigateur compatible : {browser}.").format(browser=_label(check)),
            icon=":material/check_circle:",
        )


def support_contacts() -> None:
    contacts = get_settings().support_contacts
    if not contacts:
        st.caption(_("Aucun contact de support n'est encore renseigné pour cette plateforme."))
        return
    for contact in contacts:
        parts = [f"**{contact.name}**"]
        if contact.role:
            parts.append(contact.role)
        if contact.email:
            parts.append(contact.email)
        if contact.phone:
            parts.append(contact.phone)
        st.markdown("- " + " · ".join(parts))


def equipment_box() -> None:
    with st.container(border=True):
        st.markdown(_("#### Prérequis matériel"))
        st.markdown(
            _(
                "Assurez-vous d'avoir :\n"
                "- un **micro**, des **haut-parleurs** et une **webcam** en état de marche "
                "(la webcam est facultative) ;\n"
                "- un navigateur compatible : **Google Chrome** ou **Mozilla Firefox** ;\n"
                "- **autorisé le navigateur** à accéder au micro et à la caméra de "
                "l'ordinateur.\n\n"
                "N'utilisez pas Internet Explorer : ce navigateur n'est pas compatible."
            )
        )
        st.page_link(
            "pages/materiel.py", label=_("Tester mon matériel"), icon=":material/videocam:"
        )
        st.markdown(_("**En cas de difficulté, contactez avant la RCP :**"))
        support_contacts()
