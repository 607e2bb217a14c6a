"""What `python -m rcp check-production` (run by scripts/serve.sh) refuses before a start."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from rcp import health
from rcp.config import Settings
from rcp.demo import DEMO_DOMAIN
from rcp.models import User


def problems(settings: Settings, engine: Engine) -> list[str]:
    """Reasons not to start this configuration in production (French, for the operator)."""
    found: list[str] = []
    if settings.demo_mode:
        found.append(
            # i18n: exempt (operator console: startup checks)
            "RCP_DEMO_MODE est activé : le mode démonstration (comptes aux mots de passe "
            "connus, codes SMS affichés) ne sert jamais en production. Retirez-le des réglages."
        )
    database = health.check_database(engine)
    if not database.ok:
        # i18n: exempt (operator console: startup checks)
        found.append(f"Base de données : {database.detail}.")
    else:
        with Session(engine) as session:
            demo_accounts = session.exec(
                select(func.count())
                .select_from(User)
                .where(col(User.email).endswith(f"@{DEMO_DOMAIN}"))
            ).one()
        if demo_accounts:
            found.append(
                # i18n: exempt (operator console: startup checks)
                f"La base contient {demo_accounts} compte(s) de démonstration "
                f"(@{DEMO_DOMAIN}, mot de passe public) : la production demande une base sans "
                "données de démonstration (python -m rcp seed-demo est réservé à la démo)."
            )
    files = health.check_file_store(settings.files_dir)
    if not files.ok:
        found.append(f"Fichiers ({settings.files_dir}) : {files.detail}.")
    return found


def notes(settings: Settings) -> list[str]:
    """What the operator should know about this configuration (no reason to refuse)."""
    lines = []
    if settings.base_url_derived:
        lines.append(
            # i18n: exempt (operator console: startup checks)
            "RCP_BASE_URL n'est pas réglé : les liens des e-mails utiliseront l'adresse et le "
            "port de ce serveur. Réglez-le sur l'adresse publique (https://…)."
        )
    if not settings.smtp_configured or not settings.sms_configured:
        lines.append(
            # i18n: exempt (operator console: startup checks)
            "Pas de serveur SMTP ou de passerelle SMS : les messages restent dans la boîte "
            "d'envoi (mode pilote)."
        )
    return lines
