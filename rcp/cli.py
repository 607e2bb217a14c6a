"""Command line: `python -m rcp init | create-admin | seed-demo | outbox | backup | restore |
fsck | purge-audit | check-production`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from rcp import accounts, audit, demo, notify
from rcp.config import get_settings
from rcp.dates import format_datetime
from rcp.db import make_engine, session_scope, upgrade
from rcp.errors import RcpError
from rcp.models import Profession


def _cmd_init(_args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    get_settings().files_dir.mkdir(parents=True, exist_ok=True)
    # i18n: exempt (operator console)
    print(f"Schéma à jour : {engine.url.render_as_string(hide_password=True)}")
    return 0


def _cmd_create_admin(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        # i18n: exempt (operator console)
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Confirmez : ") != password:
            # i18n: exempt (operator console)
            print("Les deux mots de passe diffèrent.", file=sys.stderr)
            return 2
    engine = make_engine()
    with session_scope(engine) as session:
        user = accounts.create_admin(
            session,
            email=args.email,
            password=password,
            phone=args.phone,
            last_name=args.last_name,
            first_name=args.first_name,
            profession=Profession(args.profession),
        )
    # i18n: exempt (operator console)
    print(f"Administrateur prêt : {user.email}")
    return 0


def _cmd_seed_demo(_args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        counts = demo.seed_demo(session)
    # i18n: exempt (operator console)
    print("Données de démonstration : " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _cmd_outbox(args: argparse.Namespace) -> int:
    engine = make_engine()
    with session_scope(engine) as session:
        rows = notify.list_outbox(session, to=args.to, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "created_at": r.created_at.isoformat(),
                        "channel": r.channel,
                        "to": r.to,
                        "subject": r.subject,
                        "body": r.body,
                        "status": r.status,
                        "attachments": [a.get("filename") for a in (r.attachments or [])],
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for r in rows:
        print(f"#{r.id} {format_datetime(r.created_at)} [{r.channel}/{r.status}] → {r.to}")
        if r.subject:
            print(f"  Objet : {r.subject}")
        for line in (r.body or "").splitlines():
            print(f"  {line}")
        print()
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from rcp import backup

    manifest = backup.backup(Path(args.dest))
    rows = sum(manifest.tables.values())
    print(
        # i18n: exempt (operator console)
        f"Sauvegarde faite dans {args.dest} : base {manifest.backend} "
        f"({len(manifest.tables)} tables, {rows} lignes), {len(manifest.files)} fichier(s)."
    )
    for warning in manifest.warnings:
        print(f"Attention : {warning}", file=sys.stderr)
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from rcp import backup

    manifest = backup.restore(Path(args.src), force=args.force)
    print(
        # i18n: exempt (operator console)
        f"Restauration faite depuis {args.src} (sauvegarde du {manifest.created_at}) : "
        f"{sum(manifest.tables.values())} lignes, {len(manifest.files)} fichier(s)."
    )
    return 0


def _cmd_fsck(args: argparse.Namespace) -> int:
    from rcp import backup

    report = backup.fsck(repair=args.repair, min_age_seconds=args.min_age)
    for line in report.lines():
        print(line)
    if report.missing or report.corrupted:
        print(
            # i18n: exempt (operator console)
            "Des fichiers référencés manquent ou sont altérés : restaurez-les depuis une "
            "sauvegarde.",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_purge_audit(args: argparse.Namespace) -> int:
    months = args.months or get_settings().audit_retention_months
    if months < audit.MIN_RETENTION_MONTHS:
        print(
            # i18n: exempt (operator console)
            f"La conservation du journal ne peut pas être inférieure à "
            f"{audit.MIN_RETENTION_MONTHS} mois.",
            file=sys.stderr,
        )
        return 2
    engine = make_engine()
    with session_scope(engine) as session:
        removed = audit.purge_older_than(session, months)
    # i18n: exempt (operator console)
    print(f"Journal d'audit : {removed} événement(s) de plus de {months} mois supprimé(s).")
    return 0


def _cmd_check_production(_args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from rcp import production

    try:
        settings = get_settings()
    except ValidationError as error:
        reasons = [e.get("msg", "").removeprefix("Value error, ") for e in error.errors()]
        # i18n: exempt (operator console)
        print("Démarrage refusé : réglages invalides.", file=sys.stderr)
        for reason in reasons:
            print(f"- {reason}", file=sys.stderr)
        return 2
    engine = make_engine(immediate=False)
    try:
        found = production.problems(settings, engine)
    finally:
        engine.dispose()
    if found:
        # i18n: exempt (operator console)
        print("Démarrage refusé :", file=sys.stderr)
        for reason in found:
            print(f"- {reason}", file=sys.stderr)
        return 2
    for note in production.notes(settings):
        print(f"Note : {note}", file=sys.stderr)
    print(
        # i18n: exempt (operator console)
        "Réglages de production vérifiés : base "
        f"{_hide_password(settings.effective_database_url)}, données {settings.data_dir}, "
        f"adresse {settings.base_url}."
    )
    return 0


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rcp", description="Plateforme RCP")
    sub = parser.add_subparsers(dest="command", required=True)
    # i18n: exempt (operator console)
    sub.add_parser("init", help="créer ou mettre à jour le schéma").set_defaults(func=_cmd_init)
    # i18n: exempt (operator console)
    p = sub.add_parser("create-admin", help="créer un administrateur")
    p.add_argument("--email", required=True)
    # i18n: exempt (operator console)
    p.add_argument("--phone", required=True, help="portable, reçoit les codes")
    p.add_argument("--last-name", default="Administrateur")
    p.add_argument("--first-name", default="Plateforme")
    p.add_argument(
        "--profession",
        choices=[str(p) for p in Profession],
        default=str(Profession.other),
        # i18n: exempt (operator console)
        help="« physician » pour un médecin (appelé « Dr ») ; par défaut « other »",
    )
    # i18n: exempt (operator console)
    p.add_argument("--password-stdin", action="store_true", help="lire le mot de passe sur stdin")
    p.set_defaults(func=_cmd_create_admin)
    # i18n: exempt (operator console)
    sub.add_parser("seed-demo", help="données fictives de démonstration").set_defaults(
        func=_cmd_seed_demo
    )
    # i18n: exempt (operator console)
    p = sub.add_parser("outbox", help="e-mails et SMS conservés (les plus récents d'abord)")
    # i18n: exempt (operator console)
    p.add_argument("--to", help="destinataire (e-mail ou +33…)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_outbox)
    # i18n: exempt (operator console)
    p = sub.add_parser("backup", help="copie cohérente de la base et des fichiers")
    # i18n: exempt (operator console)
    p.add_argument("dest", help="nouveau dossier de sauvegarde")
    p.set_defaults(func=_cmd_backup)
    # i18n: exempt (operator console)
    p = sub.add_parser("restore", help="restaurer une sauvegarde")
    # i18n: exempt (operator console)
    p.add_argument("src", help="dossier de sauvegarde")
    # i18n: exempt (operator console)
    p.add_argument("--force", action="store_true", help="remplacer une base non vide")
    p.set_defaults(func=_cmd_restore)
    # i18n: exempt (operator console)
    p = sub.add_parser("fsck", help="vérifier les fichiers stockés contre la base")
    p.add_argument(
        "--repair",
        action="store_true",
        # i18n: exempt (operator console)
        help="supprimer orphelins et fichiers temporaires",
    )
    p.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        # i18n: exempt (operator console)
        help="âge minimal (secondes) d'un orphelin ou temporaire supprimable",
    )
    p.set_defaults(func=_cmd_fsck)
    sub.add_parser(
        "check-production",
        # i18n: exempt (operator console)
        help="refuser un démarrage de production avec des réglages de démo",
    ).set_defaults(func=_cmd_check_production)
    # i18n: exempt (operator console)
    p = sub.add_parser("purge-audit", help="supprimer les événements d'audit trop anciens")
    # i18n: exempt (operator console)
    p.add_argument("--months", type=int, help="conservation (défaut : réglage, 12 mois)")
    p.set_defaults(func=_cmd_purge_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RcpError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 2
