"""What the app server says when it starts: demo mode and where it listens, emailed links."""

from __future__ import annotations

import sys
from typing import TextIO

from rcp.config import LOOPBACK_ADDRESSES, get_settings, use_server_address


def start_messages(address: str | None, port: int) -> list[str]:
    """The operator's start-up messages for a server on ``address``:``port`` (French).

    Records the address first, so that emailed links default to this server's address.
    """
    use_server_address(address, port)
    settings = get_settings()
    # i18n: exempt (operator console)
    shown = address or "toutes les interfaces"
    if settings.demo_mode:
        if (address or "") in LOOPBACK_ADDRESSES:
            return [
                # i18n: exempt (operator console)
                f"Mode démonstration : le serveur n'écoute que sur {address} (ce poste "
                f"seulement), à l'adresse {settings.base_url}. Données fictives, mots de passe "
                "connus et codes SMS affichés : ne l'ouvrez pas au réseau (ADDRESS=0.0.0.0 le "
                "ferait)."
            ]
        return [
            # i18n: exempt (operator console)
            f"ATTENTION : mode démonstration ouvert au réseau (écoute sur {shown}, port "
            f"{port}) : ses comptes ont des mots de passe connus et la page de connexion "
            "affiche les codes SMS. Arrêtez-le (Ctrl+C) et relancez-le sans ADDRESS pour "
            "n'écouter que sur 127.0.0.1."
        ]
    if settings.base_url_derived:
        return [
            # i18n: exempt (operator console)
            "ATTENTION : RCP_BASE_URL n'est pas réglé : les liens envoyés par e-mail "
            f"utiliseront {settings.base_url} (l'adresse et le port de ce serveur). Réglez "
            "RCP_BASE_URL sur l'adresse que les utilisateurs ouvrent (https://…)."
        ]
    return []


def announce(address: str | None, port: int, *, out: TextIO | None = None) -> list[str]:
    """Print :func:`start_messages` on the console (stderr: the journal under systemd)."""
    lines = start_messages(address, port)
    stream = out or sys.stderr
    for line in lines:
        print(line, file=stream, flush=True)
    return lines
