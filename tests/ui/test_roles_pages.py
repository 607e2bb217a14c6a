"""Profession and form of address on the registration, "Mon compte" and accounts pages."""

from __future__ import annotations

from sqlmodel import Session, select

from rcp.models import Civility, Profession, User
from tests.factories import make_admin, make_user, mobile, sign_in
from tests.ui.conftest import new_app, texts


def _submit_form(at, form_key: str):
    for button in at.button:
        if button.proto.form_id == form_key:
            return button.click().run()
    raise AssertionError(f"no submit button in {form_key}")


def test_registration_asks_the_profession_and_the_form_of_address(db: Session) -> None:
    at = new_app().run()
    at.switch_page("pages/inscription.py").run()
    profession = at.selectbox(key="inscription_profession")
    assert profession.value == Profession.physician  # the default, as for existing accounts
    assert "Infirmier(ère) de coordination" in profession.options
    at.text_input(key="inscription_last_name").input("Durand")
    at.text_input(key="inscription_first_name").input("Hélène")
    at.text_input(key="inscription_email").input("helene.durand@chu.example")
    at.text_input(key="inscription_phone").input(mobile(31))
    profession.select_index(profession.options.index("Infirmier(ère) de coordination"))
    civility = at.selectbox(key="inscription_civility")
    civility.select_index(civility.options.index("Madame"))
    at.selectbox(key="inscription_specialty").select("Néphrologie")
    at.text_input(key="inscription_institution").input("CHU Exemple")
    at.text_input(key="inscription_password").input("Une-Phrase-De-Passe-Solide")
    at.text_input(key="inscription_password_confirm").input("Une-Phrase-De-Passe-Solide")
    at.checkbox(key="inscription_terms").check()
    at = _submit_form(at, "inscription_form")
    assert not at.exception
    db.commit()
    user = db.exec(select(User).where(User.email == "helene.durand@chu.example")).one()
    assert (user.profession, user.civility) == (Profession.coordination_nurse, Civility.madame)
    assert user.display_name == "Hélène Durand"


def test_my_account_shows_the_profession_and_changes_the_form_of_address(db: Session) -> None:
    user = make_user(db, first_name="Anne", last_name="Roy", profession=Profession.pharmacist)
    at = new_app(sign_in(db, user)).run()
    at.switch_page("pages/mon_compte.py").run()
    assert "**Anne Roy** — Pharmacien" in texts(at)
    civility = at.selectbox(key="compte_civility")
    civility.select_index(civility.options.index("Madame"))
    at = _submit_form(at, "compte_profile_form")
    assert not at.exception
    db.commit()
    db.refresh(user)
    assert user.civility == Civility.madame
    assert "**Anne Roy** — Pharmacienne" in texts(at)


def test_an_admin_corrects_a_profession_on_the_accounts_page(db: Session) -> None:
    admin = make_admin(db)
    user = make_user(db, first_name="Léa", last_name="Petit")
    at = new_app(sign_in(db, admin)).run()
    at.switch_page("pages/admin_comptes.py").run()
    field = at.selectbox(key=f"comptes_profession_{user.id}")
    field.select_index(field.options.index("Secrétaire / assistant(e) de RCP"))
    at = _submit_form(at, f"comptes_profession_form_{user.id}")
    assert not at.exception
    db.commit()
    db.refresh(user)
    assert user.profession == Profession.rcp_secretary
    assert user.display_name == "Léa Petit"
    assert "Profession de Léa Petit enregistrée." in texts(at)


def test_the_admin_names_an_assistant_in_her_form_and_the_coordination_line_says_so(
    db: Session,
) -> None:
    from rcp.models import Profession as P
    from tests.factories import make_rcp
    from tests.ui.test_directory_pages import page

    rcp = make_rcp(db)
    nadia = make_user(
        db,
        first_name="Nadia",
        last_name="Lefort",
        phone=mobile(45),
        profession=P.rcp_secretary,
        civility=Civility.madame,
    )
    at = page("admin_annuaire", sign_in(db, make_admin(db)))
    at.text_input(key=f"annuaire_coord_search_{rcp.id}").input("Lefort").run()
    at = at.button(key=f"annuaire_as_{rcp.id}_{nadia.id}").click().run()
    assert not at.exception
    shown = texts(at)
    assert "Nadia Lefort est assistante de la RCP." in shown
    assert "Nadia Lefort (assistante RCP)" in shown and "Dr Nadia" not in shown
