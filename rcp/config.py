"""Settings from the environment (RCP_*) and .streamlit/secrets.toml ([rcp] table)."""

from __future__ import annotations

import json
import os
import socket
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from rcp.i18n import N_

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRET = "changethis"
DEFAULT_PORT = 8501
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "localhost"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})

# Where this process's app server listens, (address, port): told by app.py at start-up (from
# Streamlit's server.address and server.port). None outside a server (command line, tests).
_server_address: tuple[str, int] | None = None


class SupportContact(BaseModel):
    """A person users may call when something does not work (a setting, never hard-coded)."""

    name: str
    email: str = ""
    phone: str = ""
    role: str = ""


class Settings(BaseSettings):
    """Every knob of the platform; defaults are the embedded pilot (SQLite, outbox)."""

    model_config = SettingsConfigDict(env_prefix="RCP_", extra="ignore")

    demo_mode: bool = False
    platform_name: str = "RCP ORKID"
    # The address users open, used in emailed links. Empty: derived from the address and port
    # this server listens on (see derived_base_url); set it in production (https://…).
    base_url: str = ""
    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str = ""
    secret_key: str = PLACEHOLDER_SECRET

    # Sign-in
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    sms_code_ttl_minutes: int = 5
    totp_enabled: bool = True
    max_failures: int = 5
    # Failed sign-ins from one client address (any accounts) before that address must wait
    # lockout_minutes; high, as a hospital's doctors may share one address (rcp.auth).
    sign_in_failures_per_address: int = 30
    lockout_minutes: int = 15
    code_resend_seconds: int = 30
    max_codes_per_window: int = 5
    code_window_minutes: int = 15
    reset_token_ttl_minutes: int = 60
    invite_ttl_days: int = 14
    handoff_ttl_seconds: int = 60
    cookie_name: str = "rcp_session"
    # argon2id cost (OWASP minimum is 2 iterations with 19 MiB; these defaults are stronger).
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    # Password hashes computed at once by this process, and how long a sign-in waits for its
    # turn: a flood of sign-ins (from any number of addresses) then holds at most this many
    # cores and leaves the rest to the other users' pages (rcp.security).
    password_hash_concurrency: int = 1
    password_hash_wait_seconds: float = 15.0

    # Email (SMTP); no host means the outbox table
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "RCP ORKID <no-reply@rcp.invalid>"
    smtp_timeout_seconds: float = 10.0
    # A queued email still "sending" after this long was interrupted (crash, restart): it is
    # queued again, at most outbox_max_attempts hand-overs in all, then marked failed.
    outbox_sending_timeout_minutes: int = 10
    outbox_max_attempts: int = 3
    # How often each server process looks for queued or interrupted emails.
    outbox_retry_seconds: int = 60
    smtp_ca_file: str = ""  # extra CA bundle to trust (private relay); empty: system CAs

    # SMS through an HTTP gateway; no URL means the outbox table
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    sms_gateway_user: str = ""
    sms_gateway_password: str = ""
    sms_sender: str = "RCP"
    # In the catalogue (rcp.auth sends it in the recipient's language); a template set by
    # the operator is sent as written.
    sms_body_template: str = N_(
        "{code} est votre code de connexion {platform}. Il expire dans {minutes} minutes."
    )
    sms_timeout_seconds: float = 10.0

    # Empty in demo mode: the fictitious DEMO_SUPPORT_CONTACTS are shown.
    support_contacts: list[SupportContact] = Field(default_factory=list)

    # Files
    max_file_mb: int = 200
    max_case_mb: int = 1000
    # Uploaded files held in memory between the upload and "Ajouter les fichiers" (and
    # uploads in flight): per user, and for the whole process (rcp.uploads).
    upload_user_max_mb: int = 1100
    upload_total_max_mb: int = 3000
    # Decoded DICOM frames kept in memory for the viewers of the whole process (rcp.dicom).
    viewer_cache_mb: int = 256

    # Video room
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    room_open_minutes_before: int = 15

    # Meeting chat: messages one participant may post per minute (rcp.chat)
    chat_max_per_minute: int = 20

    # Audit
    audit_retention_months: int = 12

    # Monitoring: /metrics answers a request carrying "Authorization: Bearer <token>" (empty:
    # no token accepted), or one made directly (not forwarded by the proxy) from an address of
    # metrics_allow_from.
    metrics_token: str = ""
    metrics_allow_from: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])

    _base_url_derived: bool = PrivateAttr(default=False)

    @field_validator("support_contacts", "ice_servers", "metrics_allow_from", mode="before")
    @classmethod
    def _parse_json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.demo_mode and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError(
                "RCP_SECRET_KEY doit être une valeur aléatoire hors du mode démonstration "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        if self.upload_user_max_mb < max(self.max_file_mb, self.max_case_mb):
            raise ValueError(
                "upload_user_max_mb must be at least max_case_mb (the largest upload)."
            )
        if self.upload_total_max_mb < self.upload_user_max_mb:
            raise ValueError("upload_total_max_mb must be at least upload_user_max_mb.")
        if self.audit_retention_months < 6:
            raise ValueError("audit_retention_months cannot be less than 6.")
        if not self.base_url.strip():
            address, port = _server_address or ("localhost", DEFAULT_PORT)
            self.base_url = derived_base_url(address, port)
            self._base_url_derived = True
        if self.demo_mode and not self.support_contacts:
            self.support_contacts = list(DEMO_SUPPORT_CONTACTS)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Priority: explicit arguments, then environment, then secrets.toml.
        toml_values = _read_secrets_toml()
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, init_kwargs=toml_values),
        )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rcp.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def base_url_derived(self) -> bool:
        """True when RCP_BASE_URL was not set and base_url comes from the listening address."""
        return self._base_url_derived

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_configured(self) -> bool:
        return bool(self.sms_gateway_url)


# Fictitious people (reserved .example domain, ARCEP's 06 39 98 range kept for fiction).
DEMO_SUPPORT_CONTACTS: tuple[SupportContact, ...] = (
    SupportContact(
        # i18n: exempt (fictitious demo data)
        name="Camille Démo",
        email="support@orkid.example",
        phone="+33639980090",
        # i18n: exempt (fictitious demo data)
        role="assistance technique de la plateforme",
    ),
    SupportContact(
        name="Hugo Exemple",
        email="informatique@orkid.example",
        phone="+33639980091",
        # i18n: exempt (fictitious demo data)
        role="informatique du CHU Démo-Nord (caméra, micro, réseau)",
    ),
    SupportContact(
        name="Nadia Lefort",
        email="assistante@orkid.example",
        phone="+33639980002",
        # i18n: exempt (fictitious demo data)
        role="assistante de la filière ORKID (séances, invitations)",
    ),
)


def derived_base_url(address: str, port: int) -> str:
    """The http:// address of a server listening on ``address``:``port``, as users reach it.

    Loopback becomes ``localhost`` (the browser on the same machine); every interface
    (``0.0.0.0``, ``::``, or nothing) becomes this machine's name, the best guess for the
    others; a specific address is kept as it is.
    """
    address = (address or "").strip()
    if address in LOOPBACK_ADDRESSES:
        host = "localhost"
    elif address in WILDCARD_ADDRESSES:
        host = socket.getfqdn() or "localhost"
    else:
        host = address
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


def use_server_address(address: str | None, port: int) -> None:
    """Record where this process's app server listens (app.py at start-up), so that the
    default base URL of emailed links is that server's; the settings are read again."""
    global _server_address
    _server_address = (address or "", int(port))
    reset_settings_cache()


def _read_secrets_toml() -> dict[str, Any]:
    path = Path(os.environ.get("RCP_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return dict(tomllib.load(fh).get("rcp", {}))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
