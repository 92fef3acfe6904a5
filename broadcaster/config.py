"""Settings: one object, built explicitly from defaults, an optional file and BROADCASTER_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Ho_Chi_Minh"


class Settings(BaseSettings):
    """Everything configurable. Nothing reads the environment except ``load_settings``."""

    model_config = SettingsConfigDict(env_prefix="BROADCASTER_", extra="forbid")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="SQLite file, keys, agent state")
    cache_dir: Path = Field(default=PROJECT_ROOT / "audio_cache", description="content-addressed audio")
    cache_max_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)
    schedules_dir: Path = Field(default=PROJECT_ROOT / "schedules")
    database_url: str | None = Field(default=None, description="default: sqlite in data_dir")
    # Engines tried in order; the first that speaks wins. Piper needs a voice file the operator copies in
    # (README); without one it steps aside with a warning naming what is missing, and espeak reads.
    engines: list[str] = Field(default_factory=lambda: ["piper", "espeak"])
    voice: str | None = None
    voices_dir: Path | None = Field(default=None, description="Piper voices (<name>.onnx + .onnx.json); default data_dir/voices")
    piper_voice: str | None = Field(default=None, description="Piper's voice; default: the first usable one")
    speech_rate: float = Field(
        default=1.0, ge=0.5, le=2.0, description="speaking-rate factor where a commune sets none (<1 slower)"
    )
    lexicon_paths: list[Path] = Field(default_factory=list, description="commune lexicons (TSV)")
    gtts_base_url: str = Field(default="https://translate.google.com", description="gTTS endpoint host")
    gtts_timeout_s: float = Field(default=10.0, gt=0)
    public_url: str = Field(default="http://127.0.0.1:8000")
    # Service (API) settings.
    run_scheduler: bool = Field(default=True, description="start the broadcast scheduler with the API")
    upload_max_bytes: int = Field(default=50 * 1024**2, ge=1024, description="largest recording accepted")
    upload_max_duration_s: float = Field(default=900.0, gt=0, description="longest recording accepted")
    request_max_bytes: int = Field(default=1024**2, ge=1024, description="largest JSON request body")
    token_ttl_days: int = Field(default=90, ge=1, description="lifetime of an API token")
    # Scheduler settings (see docs/scheduling.md for why these values).
    lead_time_s: float = Field(default=600.0, ge=0, description="compose a session this long before it starts")
    misfire_grace_s: float = Field(
        default=1800.0, gt=0, description="a session may still air this long after its start; later it is missed"
    )
    prompt_delay_s: float = Field(
        default=5.0, ge=0, description="play_at = now + this for emergencies and late sessions"
    )
    scheduler_lease_ttl_s: float = Field(default=30.0, gt=0, description="a leader that stops renewing loses it")
    scheduler_lease_renew_s: float = Field(default=10.0, gt=0, description="renew (or, on standby, retry) interval")
    scheduler_horizon_s: float = Field(default=2 * 86400.0, gt=0, description="plan session jobs this far ahead")
    scheduler_lookback_s: float = Field(
        default=7 * 86400.0, ge=0, description="on start, sessions this far back that never ran are recorded"
    )
    scheduler_housekeeping_s: float = Field(default=900.0, gt=0, description="re-plan and expire bulletins")
    scheduler_workers: int = Field(default=2, ge=1, le=16, description="threads composing programmes")
    # A server delivers to its speakers out of the box; tests and planning-only runs choose "record".
    handoff: str = Field(
        default="deliver",
        description="hand-off: 'record' (memory), 'record:/path.jsonl' (JSON lines), 'deliver' (to the clusters)",
    )
    # Delivery settings (docs/delivery.md); handoff "deliver" sends signed orders to the clusters.
    audio_base_url: str | None = Field(
        default=None, description="where agents download audio; default {public_url}/audio (a CDN may front it)"
    )
    agent_heartbeat_interval_s: float = Field(
        default=60.0, gt=0, description="agents' heartbeat interval; a cluster is offline after 2.5 without one"
    )
    delivery_concurrency: int = Field(default=64, ge=1, le=4096, description="orders being sent at the same time")
    delivery_timeout_s: float = Field(default=10.0, gt=0, description="one attempt to hand an order to an agent")
    delivery_retry_initial_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles each time")
    delivery_retry_max_s: float = Field(default=30.0, gt=0, description="longest delay between two retries")
    pull_wait_s: float = Field(
        default=25.0, gt=0, le=300, description="how long a pull agent's poll waits for an order (below proxies' timeouts)"
    )
    # MQTT transport (docs/delivery.md): the server publishes orders to the broker, agents subscribe.
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="broker as the server reaches it (mqtts:// for TLS)")
    mqtt_agent_url: str | None = Field(default=None, description="broker as the agents reach it; default mqtt_url")
    mqtt_username: str = Field(default="broadcaster-server", max_length=64)
    mqtt_password_file: Path | None = Field(default=None, description="file holding the server's broker password")
    mqtt_topic_prefix: str = Field(default="broadcaster", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    mqtt_ca_file: Path | None = Field(default=None, description="CA that signed the broker's certificate (TLS)")
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate, if the broker asks for one")
    mqtt_key_file: Path | None = None
    mqtt_keepalive_s: int = Field(default=15, ge=5, le=600, description="the broker declares a silent client gone after 1.5×")
    # Web pages (broadcaster/web): sessions are server-side records (see broadcaster/web/security.py).
    cookie_secure: bool | None = Field(
        default=None, description="Secure session cookies; default: on when public_url is https"
    )
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="lifetime of a page login")
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="failed logins of one account before it is paused (per window)"
    )
    login_window_s: float = Field(default=900.0, gt=0, description="window and pause length of the login limit")

    @property
    def secure_cookies(self) -> bool:
        """Whether page cookies carry the Secure flag (explicit setting, else an https public_url)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.lower().startswith("https://")

    @property
    def effective_voices_dir(self) -> Path:
        """Where Piper voices are read from, defaulting to ``voices`` in ``data_dir``."""
        return self.voices_dir if self.voices_dir is not None else self.data_dir / "voices"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'broadcaster.sqlite3'}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: file values, then BROADCASTER_* variables, then explicit overrides."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    # pydantic-settings gives init kwargs priority over the environment; apply the file below it.
    env_settings = Settings(**overrides)
    merged = {**file_values, **env_settings.model_dump(exclude_unset=True), **overrides}
    return Settings(**merged)
