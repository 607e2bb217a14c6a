"""The RCP opinion on a case (?case=): the coordinators' editor and validation, the sheet."""

from collections.abc import Callable

import streamlit as st

from rcp import cases, i18n, opinions, sheet_data
from rcp.dates import format_date, format_datetime
from rcp.errors import PermissionDenied, RcpError
from rcp.i18n import N_, _
from rcp.models import CaseStatus, Opinion
from rcp.ui import keys, navigation, protected
from rcp.ui.context import (
    current_user,
    db,
    flash,
    require_user,
    show_error,
    show_flash,
)
from rcp.ui.links import query_int
from rcp.ui.text import escape_markdown, translated

user = require_user()
show_flash()
case_id = query_int("case")

st.title(_("Avis RCP"))
if case_id is None:
    st.error(_("Lien incomplet : aucun cas n'est indiqué."))
    st.stop()

seen = st.session_state.setdefault(keys.OPINIONS_VIEWED, set())
try:
    with db() as session:
        # The first view in this browser session is audited (identity and opinion shown).
        view = opinions.opinion_page(
            session, actor=user, case_id=case_id, audit_view=case_id not in seen
        )
    seen.add(case_id)
except RcpError as error:
    show_error(error)
    st.stop()

case = view.case


def act(call: Callable[..., object], success: str, **kwargs: object) -> bool:
    """Run a service as the signed-in user; show its error, or flash and rerun."""
    try:
        with db() as session:
            call(session, actor=session.merge(user), case_id=case.id, **kwargs)
    except RcpError as error:
        show_error(error)
        return False
    flash(success)
    st.rerun()
    return True  # pragma: no cover - st.rerun() does not return


def submit_opinion(target_case_id: int, validating: bool) -> None:
    """ "Enregistrer le brouillon" / "Valider l'avis": save what the form shows, then validate.

    A widget callback: the session is checked again here (it runs before the page's own
    check), and the outcome is left for the run that follows.
    """
    state = st.session_state
    reason = state.get("avis_quorum_reason") or ""
    fields = {
        "proposal": state.get("avis_proposal", ""),
        "rationale": state.get("avis_rationale", ""),
        "references": state.get("avis_references", ""),
        "clinical_trial": state.get("avis_trial", ""),
        "follow_up_doctor": state.get("avis_follow_up", ""),
        "follows_guidelines": state.get("avis_follows"),
        "quorum_reason": reason,
    }
    try:
        with db() as session:
            actor = current_user()
            if actor is None:
                raise PermissionDenied(_("Votre session a expiré : reconnectez-vous."))
            actor = session.merge(actor)
            # What the coordinator sees is what gets validated: the form is saved first.
            opinions.save_draft(session, actor=actor, case_id=target_case_id, **fields)
            if validating:
                opinions.validate(
                    session,
                    actor=actor,
                    case_id=target_case_id,
                    quorum_reason=reason,
                    confirm_key_image_identity=bool(state.get("avis_confirm_identity")),
                )
    except RcpError as error:
        state[keys.AVIS_ERROR] = str(error)
    else:
        flash(
            _("Avis validé : la fiche est prête et le médecin demandeur est prévenu.")
            if validating
            else _("Brouillon enregistré.")
        )


# --- heading ---------------------------------------------------------------------------------

born = {"F": _("née le {day}"), "M": _("né le {day}")}.get(
    str(case.patient_sex), _("né(e) le {day}")
)
st.markdown(
    _("**Cas n° {number}** — {last_name} {first_name}, {born} · soumis par {submitter}").format(
        number=case.id,
        last_name=case.patient_last_name.upper(),
        first_name=case.patient_first_name,
        born=born.format(day=format_date(case.patient_birth_date)),
        submitter=view.submitter.display_name,
    )
)
st.caption(view.title)
with st.container(horizontal=True, key="avis_links"):
    if navigation.has_page("pages/cas.py"):
        st.page_link(
            "pages/cas.py",
            label=_("Fiche patient"),
            query_params={"id": case.id},
            icon=":material/description:",
        )
    st.page_link(
        "pages/seance.py",
        label=_("Séance"),
        query_params={"id": view.meeting.id},
        icon=":material/event:",
    )


# --- the validated opinion (every reader) ----------------------------------------------------


def show_opinion(opinion: Opinion) -> None:
    if not opinion.follows_guidelines:
        st.warning(_("Proposition hors recommandations"), icon=":material/warning:")
    # User text is shown literally, as the sheet prints it (no Markdown).
    st.markdown(_("**Proposition de la RCP**"))
    st.text(opinion.proposal or "—")
    for label, text in (
        (_("Argumentaire"), opinion.rationale),
        (_("Références"), opinion.references),
        (_("Essai clinique proposé"), opinion.clinical_trial),
        (_("Médecin responsable du suivi"), opinion.follow_up_doctor),
    ):
        if text:
            st.markdown(f"**{label}**")
            st.text(text)


validated = view.validated
if validated is not None:
    opinion = validated.opinion
    st.success(
        _("Avis validé le {when} par {validator} (version {version})").format(
            when=format_datetime(opinion.validated_at),
            validator=validated.validator_name,
            version=opinion.version,
        ),
        icon=":material/verified:",
    )
    with st.container(border=True, key="avis_validated"):
        show_opinion(opinion)
        attendees = opinion.attendees or []
        quorum_label = _("Quorum atteint") if opinion.quorum_met else _("Quorum non atteint")
        st.markdown(
            _("**{quorum}** — participants : {attendees}").format(
                quorum=quorum_label,
                attendees=", ".join(
                    f"{a['name']} ({translated(a['specialty'])})" for a in attendees
                )
                or _("aucun"),
            )
        )
        if opinion.quorum_reason:
            st.caption(
                _("Motif consigné : {reason}").format(reason=escape_markdown(opinion.quorum_reason))
            )
    # Inline code, not st.code: a code block loads Streamlit's syntax highlighter, whose
    # start-up held the validated page back by 0.3–0.7 s in Chromium (bench/validate_click.py).
    st.markdown(
        _(
            "Empreinte SHA-256 de la fiche (pour vérifier une copie imprimée) : `{fingerprint}`"
        ).format(fingerprint=opinion.sheet_sha256 or "")
    )
    # The sheet leaves through an authenticated, audited route (never /media).
    st.link_button(
        _("Télécharger la fiche"),
        protected.sheet_url(case.id),  # type: ignore[arg-type]
        type="primary",
        icon=":material/download:",
    )
    older = [row for row in view.versions if row.validated and row is not validated]
    if older or view.draft is not None:
        st.subheader(_("Versions"))
        for row in view.versions:
            cols = st.columns([5, 2], vertical_alignment="center")
            cols[0].markdown(row.label)
            if row.validated and row is not validated:
                cols[1].link_button(
                    _("Version {version}").format(version=row.opinion.version),
                    protected.sheet_url(case.id, row.opinion.version),  # type: ignore[arg-type]
                    icon=":material/download:",
                )
elif not view.is_coordinator:
    st.info(
        _(
            "L'avis de la RCP sur ce cas n'est pas encore validé. La fiche sera téléchargeable "
            "ici dès sa validation par l'assistant(e) ou un médecin référent de la RCP."
        ),
        icon=":material/hourglass_empty:",
    )

if not view.is_coordinator:
    st.stop()

# --- coordinators ----------------------------------------------------------------------------

if case.status in (CaseStatus.draft, CaseStatus.withdrawn):
    st.info(_("Ce cas n'est pas soumis à la RCP : aucun avis ne peut être rédigé."))
    st.stop()
if case.status == CaseStatus.closed:
    st.info(_("Ce cas a été clos sans avis (motif sur la fiche patient) : aucun avis à rédiger."))
    st.stop()

if view.locked:
    st.divider()
    st.caption(
        _(
            "L'avis validé et le cas sont verrouillés. Une correction crée une nouvelle "
            "version ; la version actuelle reste consultable."
        )
    )
    if st.button(
        _("Corriger l'avis (nouvelle version)"), key="avis_correct", icon=":material/edit:"
    ):
        act(opinions.correct, _("Correction ouverte : modifiez puis validez la nouvelle version."))
    st.stop()

draft = view.draft
version = draft.version if draft is not None else 1
st.divider()
st.subheader(
    _("Rédaction de l'avis — version {version}").format(version=version)
    + (_(" (correction)") if version > 1 else "")
    + (_(" · brouillon enregistré") if draft is not None else "")
)
if draft is not None:
    st.caption(
        _("Dernier enregistrement le {when}.").format(when=format_datetime(draft.updated_at))
    )

with db() as session:
    try:
        quorum = opinions.quorum(session, actor=user, case_id=case.id)
        series = opinions.key_image_candidates(session, actor=user, case_id=case.id)
    except RcpError as error:
        show_error(error)
        st.stop()

# A new opinion answers the guidelines question explicitly (no pre-ticked "yes").
# The sheet's lab plot is drawn while the coordinator writes, not after "Valider l'avis".
sheet_data.prepare(case)
values = (
    opinions.fields_of(draft)
    if draft is not None
    else opinions.OpinionFields(follows_guidelines=None)
)
GUIDELINES = {True: N_("Oui"), False: N_("Non : proposition hors recommandations")}
form_column, case_column = st.columns([3, 2], gap="large")

with case_column, st.container(border=True, key="avis_case_file"):
    # The question and the summary beside the opinion being written (user text, literal).
    st.markdown(_("**Question posée à la RCP**"))
    st.text(case.question or _("Non renseignée."))
    st.markdown(_("**Résumé clinique**"))
    st.text(case.summary or _("Non renseigné."))
    others = [
        (_(label), getattr(case, name))
        for name, (label, _limit) in cases.TEXT_FIELDS.items()
        if name not in ("question", "summary") and getattr(case, name)
    ]
    if others:
        with st.expander(_("Autres éléments du dossier")):
            for label, text in others:
                st.markdown(f"**{label}**")
                st.text(text)

with form_column, st.form("avis_form", border=True):
    st.text_area(_("Proposition de la RCP"), value=values.proposal, height=140, key="avis_proposal")
    st.text_area(_("Argumentaire"), value=values.rationale, key="avis_rationale")
    st.text_area(_("Références"), value=values.references, key="avis_references")
    st.text_input(
        _("Essai clinique proposé (le cas échéant)"),
        value=values.clinical_trial,
        key="avis_trial",
    )
    st.text_input(
        _("Médecin responsable du suivi"), value=values.follow_up_doctor, key="avis_follow_up"
    )
    st.radio(
        _("La proposition suit-elle les recommandations en vigueur ?"),
        list(GUIDELINES),
        index=None
        if values.follows_guidelines is None
        else [True, False].index(values.follows_guidelines),
        format_func=lambda answer: i18n.label(GUIDELINES, answer),
        horizontal=True,
        help=_(
            "« Non » : la fiche signale la proposition « hors recommandations ». "
            "Une réponse est nécessaire pour valider l'avis."
        ),
        key="avis_follows",
    )

    st.markdown(_("**Quorum**"))
    if quorum.attendees:
        # A plain list: st.dataframe cost ~0.1-0.3 s a run (pandas and Arrow) for a few names.
        st.markdown(
            "\n".join(
                f"- {escape_markdown(a.name)} — {escape_markdown(translated(a.specialty))}, "
                f"{escape_markdown(a.institution)}"
                for a in quorum.attendees
            )
        )
    else:
        st.caption(_("Personne n'a encore rejoint la salle de cette séance."))
    if quorum.met:
        st.success(
            _("Quorum atteint : {summary}.").format(summary=quorum.summary()),
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            _(
                "Quorum non atteint : {summary}. Pour valider malgré tout, indiquez le motif ; "
                "il sera consigné sur la fiche."
            ).format(summary=quorum.summary()),
            icon=":material/warning:",
        )
        st.text_area(
            _("Motif de validation sans quorum"),
            value=(draft.quorum_reason or "") if draft is not None else "",
            key="avis_quorum_reason",
        )

    if view.key_image_identity_warning:
        st.error(
            _(
                "**L'image clé choisie porte l'identité d'un autre patient** dans son en-tête "
                "DICOM : {mismatch}. Choisissez une autre image ci-dessous, ou confirmez "
                "qu'elle appartient bien à ce patient."
            ).format(mismatch=escape_markdown(view.key_image_identity_warning)),
            icon=":material/warning:",
        )
        st.checkbox(
            _(
                "Je confirme que l'image clé appartient bien à ce patient malgré son en-tête "
                "DICOM (confirmation consignée sur la fiche avec mon nom)"
            ),
            key="avis_confirm_identity",
        )

    with st.container(horizontal=True):
        # Callbacks: they run before the next script run, which then draws the result once
        # (a button read in the script would draw the page, act, and rerun to draw it again).
        st.form_submit_button(
            _("Enregistrer le brouillon"),
            icon=":material/save:",
            on_click=submit_opinion,
            args=(case.id, False),
        )
        st.form_submit_button(
            _("Valider l'avis"),
            type="primary",
            icon=":material/verified:",
            on_click=submit_opinion,
            args=(case.id, True),
        )

error = st.session_state.pop(keys.AVIS_ERROR, None)
if error:
    st.error(error, icon=":material/error:")

if draft is not None:
    st.link_button(
        _("Aperçu de la fiche (projet non validé)"),
        protected.sheet_preview_url(case.id),  # type: ignore[arg-type]
        icon=":material/preview:",
    )

# --- key image -------------------------------------------------------------------------------

st.subheader(_("Image clé de la fiche"))
if not series:
    st.caption(_("Aucune image DICOM dans ce dossier : la fiche n'aura pas d'image clé."))
    st.stop()

current = None
for i, item in enumerate(series):
    at = item.index_of(case.key_attachment_id, case.key_frame_index)
    if at is not None:
        current = (i, at)
if current is None:
    st.caption(_("Aucune image clé choisie."))
else:
    st.caption(
        _("Image clé actuelle : {series}, image {number}.").format(
            series=series[current[0]].label, number=current[1] + 1
        )
    )

choice = st.selectbox(
    _("Série"),
    options=range(len(series)),
    index=current[0] if current else 0,
    format_func=lambda i: series[i].label,
    key="avis_key_series",
)
chosen = series[choice]
if chosen.identity_warning:
    st.error(
        _(
            "**Attention, images d'un autre patient ?** L'en-tête DICOM de cette série ne "
            "correspond pas au dossier : {mismatch}. Choisie comme image clé, elle ne pourra "
            "être validée qu'avec une confirmation explicite, imprimée sur la fiche."
        ).format(mismatch=escape_markdown(chosen.identity_warning)),
        icon=":material/warning:",
    )
position = 0
if len(chosen.slices) > 1:
    position = (
        st.slider(
            _("Image"),
            min_value=1,
            max_value=len(chosen.slices),
            value=(current[1] + 1) if current and current[0] == choice else 1,
            key=f"avis_key_slice_{choice}",
        )
        - 1
    )
picked = chosen.slices[position]
protected.image(
    protected.key_image_url(case.id, picked.attachment_id, picked.frame_index),  # type: ignore[arg-type]
    alt=_("Aperçu de l'image clé"),
    caption=_("Aperçu tel qu'imprimé sur la fiche"),
    max_width=320,
)
with st.container(horizontal=True):
    if st.button(_("Choisir cette image"), key="avis_key_choose", icon=":material/image:"):
        act(
            opinions.choose_key_image,
            _("Image clé choisie."),
            attachment_id=picked.attachment_id,
            frame_index=picked.frame_index,
        )
    if current is not None and st.button(_("Pas d'image clé"), key="avis_key_none"):
        act(opinions.choose_key_image, _("La fiche n'aura pas d'image clé."), attachment_id=None)
