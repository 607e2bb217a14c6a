"""Fictitious demo data (`python -m rcp seed-demo`): idempotent, no real person in it.

Besides the ORKID directory and its monthly meetings, every run makes sure that a meeting of
the GEM RCP has its video room open and its case deposit still open (one starting about ten
minutes after the run, created when there is none), with three submitted cases: one with a
CT series (generated here) and a lab trend, one with a lab trend, one without files.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, func, select

from rcp import meeting_live
from rcp.dates import PARIS
from rcp.models import (
    Case,
    Civility,
    Meeting,
    MeetingStatus,
    MemberRole,
    MembershipStatus,
    Network,
    Participation,
    ParticipationStatus,
    Profession,
    Rcp,
    RcpFamily,
    RcpMember,
    User,
    UserStatus,
    utcnow,
)
from rcp.security import hash_password

DEMO_PASSWORD = "Demo-RCP-2026!"
DEMO_DOMAIN = "orkid.example"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    last_name: str
    first_name: str
    specialty: str
    institution: str
    # ARCEP's range reserved for fiction (06 39 98 xx xx): never a subscriber's number.
    phone: str
    is_admin: bool = False
    profession: Profession = Profession.physician
    civility: Civility | None = None


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "admin",
        "Administrateur",
        # i18n: exempt (fictitious demo data)
        "Démo",
        "Autre",
        # i18n: exempt (fictitious demo data)
        "Plateforme RCP (démonstration)",
        "+33639980001",
        is_admin=True,
        profession=Profession.other,
    ),
    DemoPerson(
        "assistante",
        "Lefort",
        "Nadia",
        # i18n: exempt (fictitious demo data)
        "Néphrologie",
        # i18n: exempt (fictitious demo data)
        "CHU Démo-Nord, néphrologie",
        "+33639980002",
        profession=Profession.rcp_secretary,
        civility=Civility.madame,
    ),
    DemoPerson(
        "referent",
        "Vasseur",
        # i18n: exempt (fictitious demo data)
        "Étienne",
        # i18n: exempt (fictitious demo data)
        "Néphrologie",
        # i18n: exempt (fictitious demo data)
        "CHU Démo-Nord, néphrologie",
        "+33639980003",
    ),
    DemoPerson(
        "medecin1",
        "Marchal",
        # i18n: exempt (fictitious demo data)
        "Inès",
        # i18n: exempt (fictitious demo data)
        "Néphrologie pédiatrique",
        # i18n: exempt (fictitious demo data)
        "CHU Démo-Sud, pédiatrie",
        "+33639980004",
    ),
    DemoPerson(
        "medecin2",
        "Boyer",
        "Julien",
        "Anatomopathologie",
        # i18n: exempt (fictitious demo data)
        "CHU Démo-Est, anatomie pathologique",
        "+33639980005",
    ),
    DemoPerson(
        "medecin3",
        "Renaud",
        "Sophie",
        # i18n: exempt (fictitious demo data)
        "Génétique",
        # i18n: exempt (fictitious demo data)
        "CHU Démo-Ouest, génétique",
        "+33639980006",
    ),
)


def demo_email(key: str) -> str:
    return f"{key}@{DEMO_DOMAIN}"


def seed_accounts(session: Session) -> dict[str, User]:
    """Create the demo accounts if missing; never touches accounts that already exist."""
    users: dict[str, User] = {}
    now = utcnow()
    password_hash = None
    for person in PEOPLE:
        email = demo_email(person.key)
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = User(
                email=email,
                password_hash=password_hash,
                last_name=person.last_name,
                first_name=person.first_name,
                phone=person.phone,
                specialty=person.specialty,
                institution=person.institution,
                status=UserStatus.active,
                is_admin=person.is_admin,
                profession=person.profession,
                civility=person.civility,
                terms_accepted_at=now,
                validated_at=now,
                password_changed_at=now,
            )
            session.add(user)
            session.flush()
        users[person.key] = user
    session.commit()
    return users


FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        # i18n: exempt (fictitious demo data)
        "GEM et SNI (SNLGM, HSF) adulte",
        # i18n: exempt (fictitious demo data)
        "Glomérulopathies extramembraneuses et syndromes néphrotiques idiopathiques de "
        "l'adulte (lésions glomérulaires minimes, hyalinose segmentaire et focale).",
        # i18n: exempt (fictitious demo data)
        ("GEM et SNI (SNLGM, HSF) adulte",),
    ),
    (
        # i18n: exempt (fictitious demo data)
        "Syndrome néphrotique de l'enfant",
        # i18n: exempt (fictitious demo data)
        "Syndromes néphrotiques idiopathiques et génétiques de l'enfant.",
        # i18n: exempt (fictitious demo data)
        ("Syndrome néphrotique idiopathique pédiatrique",),
    ),
    (
        # i18n: exempt (fictitious demo data)
        "Néphropathie à IgA et vascularites",
        # i18n: exempt (fictitious demo data)
        "Néphropathie à IgA, purpura rhumatoïde et vascularites à ANCA.",
        # i18n: exempt (fictitious demo data)
        ("Néphropathie à IgA", "Vascularites à ANCA"),
    ),
    (
        # i18n: exempt (fictitious demo data)
        "SHU atypique et microangiopathies thrombotiques",
        # i18n: exempt (fictitious demo data)
        "Syndrome hémolytique et urémique atypique et autres MAT.",
        # i18n: exempt (fictitious demo data)
        ("SHU atypique et MAT",),
    ),
    (
        # i18n: exempt (fictitious demo data)
        "Maladies rénales génétiques",
        # i18n: exempt (fictitious demo data)
        "Néphropathies héréditaires, ciliopathies, polykystoses.",
        # i18n: exempt (fictitious demo data)
        ("Néphropathies héréditaires de l'adulte", "Ciliopathies et PKD de l'enfant"),
    ),
)


def seed_directory(session: Session, users: dict[str, User]) -> None:
    """The ORKID network with its families, RCPs, coordinators, members and meetings."""
    network = session.exec(select(Network).where(Network.code == "ORKID")).first()
    if network is not None:
        return
    now = utcnow()
    network = Network(
        code="ORKID",
        # i18n: exempt (fictitious demo data)
        name="Filière de santé maladies rénales rares",
        # i18n: exempt (fictitious demo data)
        description="Réseau national (démonstration, données fictives).",
    )
    session.add(network)
    session.flush()
    rcps: list[Rcp] = []
    for family_name, description, rcp_names in FAMILIES:
        family = RcpFamily(network_id=network.id, name=family_name, description=description)
        session.add(family)
        session.flush()
        for rcp_name in rcp_names:
            rcp = Rcp(
                family_id=family.id,
                name=rcp_name,
                # i18n: exempt (fictitious demo data)
                description=f"RCP nationale « {rcp_name} » de la filière ORKID.",
            )
            session.add(rcp)
            session.flush()
            rcps.append(rcp)
    gem, pediatric, iga, _vasc, shu, *_genetic = rcps
    roles = [
        (gem, "assistante", MemberRole.assistant),
        (gem, "referent", MemberRole.referent),
        (shu, "referent", MemberRole.referent),
        (pediatric, "assistante", MemberRole.assistant),
        (iga, "referent", MemberRole.referent),
        (gem, "medecin1", MemberRole.doctor),
        (gem, "medecin2", MemberRole.doctor),
        (pediatric, "medecin1", MemberRole.doctor),
        (shu, "medecin3", MemberRole.doctor),
    ]
    for rcp, key, role in roles:
        session.add(RcpMember(rcp_id=rcp.id, user_id=users[key].id, role=role, decided_at=now))
    # A membership request waiting for the coordinators.
    session.add(
        RcpMember(
            rcp_id=gem.id,
            user_id=users["medecin3"].id,
            role=MemberRole.doctor,
            status=MembershipStatus.requested,
        )
    )
    # Monthly meetings on Wednesdays, 14:00-16:00 Paris: six past, three upcoming.
    today = now.astimezone(PARIS).date()
    next_wednesday = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    for rcp in rcps:
        for offset in range(-6, 3):
            day = next_wednesday + timedelta(weeks=4 * offset)
            start = datetime.combine(day, time(14, 0), tzinfo=PARIS)
            session.add(
                Meeting(
                    rcp_id=rcp.id,
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    case_deadline=start - timedelta(days=2),
                    status=MeetingStatus.closed if offset < 0 else MeetingStatus.scheduled,
                    created_by_id=users["assistante"].id,
                )
            )
    session.flush()
    gem_meetings = session.exec(
        select(Meeting).where(Meeting.rcp_id == gem.id).order_by(col(Meeting.starts_at))
    ).all()
    past, upcoming = gem_meetings[:6], gem_meetings[6:]
    states = [
        (upcoming[0], "medecin1", ParticipationStatus.confirmed),
        (upcoming[0], "medecin2", ParticipationStatus.invited),
        (upcoming[0], "medecin3", ParticipationStatus.requested),
        (upcoming[1], "medecin1", ParticipationStatus.invited),
        (upcoming[1], "medecin2", ParticipationStatus.declined),
        (upcoming[1], "medecin3", ParticipationStatus.refused),
    ]
    for meeting in past:
        states += [
            (meeting, "medecin1", ParticipationStatus.confirmed),
            (meeting, "medecin2", ParticipationStatus.confirmed),
        ]
    for meeting, key, status in states:
        session.add(
            Participation(
                meeting_id=meeting.id,
                user_id=users[key].id,
                status=status,
                invited_by_id=users["assistante"].id,
            )
        )
    session.commit()


# --- a meeting to try now: room open, deposit open --------------------------------------------

# i18n: exempt (fictitious demo data)
LIVE_RCP = "GEM et SNI (SNLGM, HSF) adulte"
LIVE_STARTS_IN = timedelta(minutes=10)
LIVE_DURATION = timedelta(hours=2)


@dataclass(frozen=True)
class DemoCase:
    submitter: str
    last_name: str
    first_name: str
    birth_date: date
    sex: str
    question: str
    summary: str
    labs: tuple[tuple[str, float, int], ...] = ()  # (code, value, days before the seed)
    ct_series: bool = False


LIVE_CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "medecin1",
        "Demolin",
        "Lucie",
        date(1978, 3, 14),
        "F",
        # i18n: exempt (fictitious demo data)
        "Faut-il introduire le rituximab d'emblée devant une GEM à anticorps anti-PLA2R "
        "avec syndrome néphrotique persistant à six mois ?",
        # i18n: exempt (fictitious demo data)
        "Patiente de 48 ans (cas fictif). Syndrome néphrotique révélé par des œdèmes, "
        "anticorps anti-PLA2R positifs, biopsie : glomérulopathie extramembraneuse stade II. "
        "Traitement néphroprotecteur maximal depuis six mois. Scanner abdominal joint.",
        labs=(
            ("creatinine", 78, 180),
            ("creatinine", 84, 120),
            ("creatinine", 92, 60),
            ("creatinine", 101, 7),
            ("proteinuria", 6.8, 180),
            ("proteinuria", 7.4, 120),
            ("proteinuria", 6.1, 60),
            ("proteinuria", 6.9, 7),
            ("albumin", 21.0, 180),
            ("albumin", 19.5, 60),
            ("albumin", 20.2, 7),
            ("egfr", 79, 180),
            ("egfr", 66, 7),
        ),
        ct_series=True,
    ),
    DemoCase(
        "medecin2",
        "Fictif",
        "Paul",
        date(1961, 11, 2),
        "M",
        # i18n: exempt (fictitious demo data)
        "Une rechute de HSF après greffe justifie-t-elle des échanges plasmatiques ?",
        # i18n: exempt (fictitious demo data)
        "Patient de 65 ans (cas fictif), greffé rénal il y a trois ans pour une HSF. "
        "Protéinurie réapparue en un mois, créatinine en hausse.",
        labs=(
            ("creatinine", 118, 90),
            ("creatinine", 131, 30),
            ("creatinine", 162, 3),
            ("proteinuria", 0.4, 90),
            ("proteinuria", 2.9, 30),
            ("proteinuria", 5.6, 3),
        ),
    ),
    DemoCase(
        "medecin1",
        "Specimen",
        "Jeanne",
        date(1990, 7, 21),
        "F",
        # i18n: exempt (fictitious demo data)
        "Avis sur la poursuite de la corticothérapie dans un syndrome néphrotique "
        "corticodépendant.",
        # i18n: exempt (fictitious demo data)
        "Patiente de 36 ans (cas fictif), deux rechutes à la décroissance des corticoïdes.",
    ),
)


def _live_meeting(session: Session, rcp_id: int, now: datetime) -> Meeting | None:
    """A meeting of the RCP whose room is open now and whose deposit is still open."""
    candidates = session.exec(
        select(Meeting).where(
            Meeting.rcp_id == rcp_id,
            Meeting.status == MeetingStatus.scheduled,
            Meeting.case_deadline > now,
        )
    ).all()
    for meeting in candidates:
        if meeting_live.phase(meeting, now) == meeting_live.Phase.live:
            return meeting
    return None


def ct_series_zip(case: DemoCase, *, slices: int = 16, size: int = 256) -> bytes:
    """A small abdominal CT of the case's patient (its header names them), zipped."""
    # Imported here: every `python -m rcp` command imports this module.
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(2026)
    study_uid, series_uid = generate_uid(), generate_uid()
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for z in range(slices):
            hu = np.full((size, size), -1000.0, dtype=np.float32)
            hu[((x - 0.5) / 0.42) ** 2 + ((y - 0.52) / 0.32) ** 2 <= 1] = 40.0  # body
            height = 0.1 * np.sin(np.pi * (z + 1) / (slices + 1))  # kidneys come and go
            for cx in (0.32, 0.68):
                hu[((x - cx) / 0.07) ** 2 + ((y - 0.58) / max(height, 0.01)) ** 2 <= 1] = 150.0
            hu[((x - 0.5) / 0.06) ** 2 + ((y - 0.72) / 0.06) ** 2 <= 1] = 700.0  # vertebra
            hu += rng.normal(0.0, 12.0, hu.shape).astype(np.float32)
            pixels = np.clip(hu + 1024.0, 0, 4095).astype(np.uint16)
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
            ds.SOPClassUID = CTImageStorage
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientName = f"{case.last_name.upper()}^{case.first_name}"
            ds.PatientBirthDate = case.birth_date.strftime("%Y%m%d")
            ds.PatientSex = case.sex
            ds.Modality = "CT"
            # i18n: exempt (fictitious demo data)
            ds.StudyDescription = "Scanner abdominal (démonstration)"
            ds.SeriesDescription = "Abdomen sans injection"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
            ds.SeriesNumber, ds.InstanceNumber = 2, z + 1
            ds.ImagePositionPatient = [-200.0, -200.0, -5.0 * z]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ds.PixelSpacing = [400.0 / size, 400.0 / size]
            ds.SliceThickness = 5.0
            ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
            ds.set_pixel_data(pixels, photometric_interpretation="MONOCHROME2", bits_stored=12)
            data = io.BytesIO()
            ds.save_as(data, enforce_file_format=True)
            zf.writestr(f"SCANNER/IM{z + 1:04d}.dcm", data.getvalue())
    return buffer.getvalue()


def seed_live_meeting(session: Session, users: dict[str, User]) -> Meeting:
    """The GEM meeting to try now: kept if one is open, else created with its cases."""
    from rcp import attachments, cases  # the services, with their DICOM and image imports

    now = utcnow()
    rcp = session.exec(select(Rcp).where(Rcp.name == LIVE_RCP)).one()
    meeting = _live_meeting(session, rcp.id, now)  # type: ignore[arg-type]
    if meeting is not None:
        return meeting
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1) + LIVE_STARTS_IN
    meeting = Meeting(
        rcp_id=rcp.id,
        starts_at=start,
        ends_at=start + LIVE_DURATION,
        case_deadline=start,
        status=MeetingStatus.scheduled,
        created_by_id=users["assistante"].id,
    )
    session.add(meeting)
    session.flush()
    for key in ("medecin1", "medecin2"):
        session.add(
            Participation(
                meeting_id=meeting.id,
                user_id=users[key].id,
                status=ParticipationStatus.confirmed,
                invited_by_id=users["assistante"].id,
            )
        )
    session.commit()
    today = now.astimezone(PARIS).date()
    for demo_case in LIVE_CASES:
        submitter = users[demo_case.submitter]
        form = cases.CaseForm(
            last_name=demo_case.last_name,
            first_name=demo_case.first_name,
            birth_date=demo_case.birth_date,
            sex=demo_case.sex,
            patient_informed=True,
            question=demo_case.question,
            summary=demo_case.summary,
            labs=[
                {"code": code, "value": value, "taken_on": today - timedelta(days=days)}
                for code, value, days in demo_case.labs
            ],
        )
        case = cases.save_draft(
            session,
            actor=submitter,
            meeting_id=meeting.id,  # type: ignore[arg-type]
            form=form,
        )
        if demo_case.ct_series:
            attachments.add_upload(
                session,
                actor=submitter,
                case_id=case.id,  # type: ignore[arg-type]
                name="scanner-abdominal.zip",
                data=ct_series_zip(demo_case),
            )
        cases.submit(session, actor=submitter, case_id=case.id)  # type: ignore[arg-type]
    return meeting


def seed_demo(session: Session) -> dict[str, int]:
    """Everything the demo needs; returns counts of what exists afterwards."""
    users = seed_accounts(session)
    seed_directory(session, users)
    seed_live_meeting(session, users)
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    return {
        "comptes": count(User),
        "RCP": count(Rcp),
        "séances": count(Meeting),
        "participations": count(Participation),
        "cas": count(Case),
    }
