"""The catalogue is complete: every user-facing string goes through it, and English has all.

French is the reference language (the message ids); ``rcp/locale/en/.../messages.po`` holds
the English. ``scripts/i18n.py extract`` adds new messages to it, ``check`` lists what lacks.
"""

from __future__ import annotations

import pytest

from rcp import catalogue

# Modules whose strings are not yet converted to the catalogue. This list only shrinks: a
# module leaves it once converted (the last test fails while a converted module stays on it),
# and issue 16 is resolved only when it is empty.
NOT_YET_CONVERTED: frozenset[str] = frozenset()


def test_every_message_of_the_code_has_its_english_translation() -> None:
    problems = catalogue.check()
    assert not problems, "\n".join(map(str, problems[:40]))


def test_no_user_facing_string_bypasses_the_catalogue() -> None:
    found = {
        path: items for path, items in catalogue.bypasses().items() if path not in NOT_YET_CONVERTED
    }
    listing = [str(item) for items in found.values() for item in items]
    assert not listing, "wrap these in _() (rcp.i18n):\n" + "\n".join(listing[:60])


def test_the_list_of_unconverted_modules_holds_only_modules_still_to_convert() -> None:
    pending = set(catalogue.bypasses())
    done = sorted(NOT_YET_CONVERTED - pending)
    assert not done, f"converted: remove from NOT_YET_CONVERTED: {done}"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('st.button("Valider")', ["Valider"]),
        ('st.button("Upload")', ["Upload"]),  # Streamlit text, French or not
        ('st.button(_("Valider"))', []),
        ('col.caption(f"Séance du {day}")', ["Séance du "]),
        ('raise InvalidInput("Le nom est obligatoire.")', ["Le nom est obligatoire."]),
        ('raise InvalidInput(_("Le nom est obligatoire."))', []),
        ('LABELS = {"draft": N_("Brouillon"), "open": "Séance ouverte"}', ["Séance ouverte"]),
        ('log.warning("Échec de la livraison")', []),  # logs are for operators
        ('raise ValueError("dimension négative")', []),  # a programming error, never shown
        ('x = "Une donnée de démonstration"  # i18n: exempt (demo data)', []),
        ('st.markdown("›")', []),
        ('st.page_link("pages/x.py", label="Mes cas", icon=":material/home:")', ["Mes cas"]),
        ('sa.text("SELECT pg_notify(:channel, :payload)")', []),
        ('st.tabs(["Profil", "Sécurité"])', ["Profil", "Sécurité"]),
        ('"""Une docstring en français."""', []),
    ],
)
def test_the_scanner_finds_strings_that_bypass_the_catalogue(source, flagged) -> None:
    assert [b.text for b in catalogue.scan_source(source)] == flagged
