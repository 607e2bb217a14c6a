"""Alembic migrations: rows written at the first revision survive every upgrade up to head,
and head builds exactly the models' schema, on SQLite and on PostgreSQL.

The fill works at the first revision's schema as the database reflects it (plain SQL, no
models), so it keeps working when that revision changes or later ones are added: every column
gets a value (hand-picked below for the tables we know, by type otherwise). The upgrade then
goes one revision at a time, and after each step every table and column that still exists
must hold exactly what was there before. A later revision that changes data on purpose (a
rename, a conversion) declares it in ``INTENDED_CHANGES`` with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from rcp import models
from rcp.db import alembic_config, current_revision, make_engine, upgrade
from tests.databases import throwaway_postgres

PG_URL = os.environ.get("RCP_TEST_DATABASE_URL", "")

# (table, column) -> why a later revision changes what was stored there. Empty so far.
INTENDED_CHANGES: dict[tuple[str, str], str] = {}

ARGON2_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VsLWRlLXRlc3Q$bm90LWEtcmVhbC1oYXNoLWJ1dC1zaGFwZWQ"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# Realistic values for the tables of the first release; columns not named here get a value
# of their type (see _typed_value), so new columns in the first revision are filled too.
SAMPLES: dict[str, dict[str, Any]] = {
    "user": {
        "email": "élodie.martin@chu-tours.example",
        "password_hash": ARGON2_HASH,
        "last_name": "Martin-Lœwy",
        "first_name": "Élodie",
        "phone": "+33612345678",
        "specialty": "Néphrologie",
        "institution": "CHU de Tours — hôpital Bretonneau",
        "rpps": "10003456788",
        "status": "active",
        "totp_secret": "JBSWY3DPEHPK3PXP",
    },
    "loginsession": {"token_hash": SHA, "revoked_reason": "sign_out", "ip_address": "10.1.2.3"},
    "otpchallenge": {"purpose": "sign_in", "channel": "sms", "code_hash": SHA},
    "passwordresettoken": {"token_hash": SHA},
    "registrationinvite": {"email": "invite@chu-lyon.example", "token_hash": SHA},
    "network": {"code": "ORKID", "name": "Filière ORKID", "description": "Maladies rénales rares"},
    "rcpfamily": {"name": "Néphropathies glomérulaires", "description": ""},
    "rcp": {"name": "GEM et SNI (SNLGM, HSF) adulte", "min_specialties": 3},
    "rcpmember": {"role": "referent", "status": "active"},
    "meeting": {"status": "open", "description": "Séance mensuelle « GEM »"},
    "participation": {"status": "confirmed"},
    "attendance": {},
    "case": {
        "patient_last_name": "Durand",
        "patient_first_name": "Zoé",
        "patient_birth_date": date(1984, 2, 29),
        "patient_sex": "F",
        "patient_informed": True,
        "question": "Faut-il une biopsie rénale ?\nAvis sur le traitement.",
        "labs": [
            {"code": "creatinine", "value": 182.5, "taken_on": "2026-10-02"},
            {"code": "egfr", "value": 31, "taken_on": "2026-10-02"},
        ],
        "status": "submitted",
    },
    "attachment": {
        "original_name": "IRM rénale série 3.zip",
        "kind": "dicom",
        "stored_path": f"{SHA[:2]}/{SHA}",
        "sha256": SHA,
        "size": 734_003_200,
        "dicom_summary": {"modality": "MR", "series": [{"uid": "1.2.840.1", "frames": 24}]},
    },
    "opinion": {
        "version": 1,
        "proposal": "Biopsie rénale puis corticothérapie ; revoir en RCP à 3 mois.",
        "attendees": [{"name": "Dr Élodie Martin", "specialty": "Néphrologie"}],
        "quorum_met": True,
    },
    "chatmessage": {"body": "Bonjour à tous 👋 — <b>pas de HTML</b> & « guillemets »"},
    "auditevent": {"action": "case.submitted", "target_type": "case", "details": {"meeting": 1}},
    "outboxmessage": {
        "channel": "email",
        "to": "medecin@chu-lille.example",
        "subject": "Invitation : RCP du 3 décembre",
        "body": "Bonjour,\n\nVous êtes invité·e à la séance.\n",
        "attachments": [{"filename": "invitation.ics", "content_type": "text/calendar"}],
        "status": "outbox",
    },
}


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.pg,
                pytest.mark.skipif(not PG_URL, reason="RCP_TEST_DATABASE_URL is not set"),
            ],
        ),
    ]
)
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database file (SQLite) or a brand-new database (PostgreSQL)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    with throwaway_postgres(PG_URL, "rcp_migrations") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def revision_chain() -> list[str]:
    """Every revision id, from the first to head (one line of history, no branches)."""
    script = ScriptDirectory.from_config(alembic_config(None))
    chain = [rev.revision for rev in script.walk_revisions("base", "heads")]
    return list(reversed(chain))


# --- filling at the first revision --------------------------------------------------------------


def _typed_value(table: sa.Table, column: sa.Column, row: int) -> Any:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7 * row
    if isinstance(kind, sa.DateTime):
        # Microseconds and a DST-change night (Europe/Paris) round-trip as stored.
        return datetime(2026, 3, 29, 1, 30, 15, 123456 + row)
    if isinstance(kind, sa.Date):
        return date(1990, 1, 31)
    if isinstance(kind, sa.JSON):
        return {"column": column.name, "values": [row, "é", None, 1.5]}
    if isinstance(kind, sa.Numeric):
        return 1.5 * row
    if isinstance(kind, sa.String):
        text = f"{table.name}.{column.name} — é {row}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(f"no sample value for {table.name}.{column.name} ({kind!r}): add one")


def _unique_columns(inspector: sa.Inspector, table: str) -> set[str]:
    names: set[str] = set()
    for constraint in inspector.get_unique_constraints(table):
        names.update(constraint["column_names"])
    for index in inspector.get_indexes(table):
        if index.get("unique"):
            names.update(c for c in index["column_names"] if c)
    return names


def _row_values(table: sa.Table, unique: set[str], row: int) -> dict[str, Any]:
    """Row 1 fills every column; row 2 leaves nullable ones empty and points at parents' row 2."""
    sample = SAMPLES.get(table.name, {})
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            continue  # the database numbers rows 1 and 2, as an application would
        if column.foreign_keys:
            values[column.name] = None if (row == 2 and column.nullable) else row
            continue
        if row == 2 and column.nullable:
            values[column.name] = None
            continue
        value = sample[column.name] if column.name in sample else _typed_value(table, column, row)
        if row == 2 and column.name in unique and isinstance(value, str):
            length = getattr(column.type, "length", None)
            value = f"2{value}"[:length] if length else f"2{value}"
        values[column.name] = value
    return values


def fill(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table of the current schema, through SQL; returns what was written."""
    written: dict[str, list[dict[str, Any]]] = {}
    metadata = sa.MetaData()
    metadata.reflect(engine)
    tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
    inspector = sa.inspect(engine)
    unique = {table.name: _unique_columns(inspector, table.name) for table in tables}
    with engine.begin() as conn:
        for table in tables:
            rows = []
            for row in (1, 2):
                values = _row_values(table, unique[table.name], row)
                result = conn.execute(table.insert().values(values))
                assert tuple(result.inserted_primary_key) == (row,), table.name
                rows.append({"id": row, **values})
            written[table.name] = rows
    return written


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (but Alembic's), by primary key order, read through SQL."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            table.name: [
                dict(r._mapping)
                for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
            if table.name != "alembic_version"
        }


def lost_data(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """What differs in the tables and columns kept by the upgrade (intended changes aside)."""
    problems = []
    for table, rows in before.items():
        if table not in after:
            if (table, "*") not in INTENDED_CHANGES:
                problems.append(f"table {table} is gone")
            continue
        if len(after[table]) != len(rows):
            problems.append(f"{table}: {len(rows)} rows before, {len(after[table])} after")
            continue
        for old, new in zip(rows, after[table], strict=True):
            for column, value in old.items():
                if (table, column) in INTENDED_CHANGES:
                    continue
                if column not in new:
                    problems.append(f"column {table}.{column} is gone")
                elif new[column] != value:
                    problems.append(
                        f"{table}.{column} row {old['id']}: {value!r} → {new[column]!r}"
                    )
    return problems


def model_classes() -> list[type[SQLModel]]:
    return [
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, SQLModel) and hasattr(obj, "__table__")
    ]


# --- tests -------------------------------------------------------------------------------------


def test_revisions_form_one_line_from_the_first_to_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(None))
    chain = revision_chain()
    assert len(script.get_heads()) == 1, "several heads: merge them"
    assert len(script.get_bases()) == 1, "several first revisions"
    assert chain[0] == script.get_bases()[0]
    assert chain[-1] == script.get_current_head()
    for parent, child in zip(chain, chain[1:], strict=False):
        assert script.get_revision(child).down_revision == parent


def test_rows_written_at_the_first_revision_survive_every_upgrade_to_head(
    blank_engine: Engine,
) -> None:
    chain = revision_chain()
    upgrade(blank_engine, chain[0])
    assert current_revision(blank_engine) == chain[0]
    written = fill(blank_engine)
    before = snapshot(blank_engine)
    assert lost_data(written, before) == [], "the first revision does not keep what it is given"

    for revision in chain[1:]:
        upgrade(blank_engine, revision)
        assert current_revision(blank_engine) == revision
        after = snapshot(blank_engine)
        assert lost_data(before, after) == [], f"upgrade to {revision} changed stored data"
        before = after
    assert current_revision(blank_engine) == chain[-1]

    # The models of head read the old rows, and the application can go on writing (on
    # PostgreSQL this also proves the id sequences followed the rows written by SQL).
    # Tables that a later revision created were not there to fill: they start empty.
    with Session(blank_engine, expire_on_commit=False) as session:
        for model in model_classes():
            rows = session.exec(select(model)).all()
            expected = 2 if model.__tablename__ in written else 0
            assert len(rows) == expected, model.__name__
        case = session.get(models.Case, 1)
        assert case is not None
        assert case.patient_first_name == "Zoé"
        assert case.patient_birth_date == date(1984, 2, 29)
        assert case.labs[0] == {"code": "creatinine", "value": 182.5, "taken_on": "2026-10-02"}
        assert case.created_at.tzinfo is not None
        message = models.ChatMessage(meeting_id=1, author_id=1, body="Après la mise à jour")
        session.add(message)
        session.commit()
        assert message.id == 3


def test_head_schema_equals_the_models(blank_engine: Engine) -> None:
    """Like `alembic check`: no difference between the migrated schema and rcp.models."""
    upgrade(blank_engine)
    with blank_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
