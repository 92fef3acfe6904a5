"""Settings: one object, built explicitly from defaults, an optional file and BROADCASTER_* variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from broadcaster.errors import InvalidInput, NotFound

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Ho_Chi_Minh"


class Settings(BaseSettings):
    """Everything configurable. Nothing reads the environment except ``load_settings``."""

    model_config = SettingsConfigDict(env_prefix="BROADCASTER_", extra="forbid")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="SQLite file, keys, agent state")
    cache_dir: Path = Field(default=PROJECT_ROOT / "audio_cache", description="content-addressed audio")
    cache_max_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)
    audio_scrub_interval_s: float = Field(
        default=900.0, gt=0, description="hash the audio served to agents again this often (damage on disk)"
    )
    schedules_dir: Path = Field(default=PROJECT_ROOT / "schedules")
    database_url: str | None = Field(default=None, description="default: sqlite in data_dir")
    database_busy_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="wait this long for another writer's lock, then answer 503"
    )
    min_free_disk_bytes: int = Field(
        default=200 * 1024**2, ge=0, description="/health reports degraded below this much free space"
    )
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
    # Previews ("Nghe thử") render in their own low-priority lane (broadcaster/render_lanes.py).
    preview_workers: int = Field(default=1, ge=1, le=16, description="previews rendering at the same time")
    preview_queue: int = Field(default=8, ge=0, le=256, description="previews waiting for a worker; more get 503")
    preview_per_user: int = Field(default=2, ge=1, le=16, description="previews one person may have running or waiting")
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
    emergency_retry_s: float = Field(
        default=15.0, gt=0, description="the leader resumes accepted emergencies not on the air this often"
    )
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
        default=5, ge=1, le=1000,
        description="failed logins of one account from one address before each try must wait (10x per address)",
    )
    login_window_s: float = Field(default=900.0, gt=0, description="failures older than this are forgotten")
    login_first_delay_s: float = Field(default=1.0, gt=0, description="the first wait; it doubles with each failure")
    login_max_delay_s: float = Field(default=900.0, gt=0, description="the longest wait between two tries")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed (none by default)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: «{proxy}» không phải địa chỉ IP hay mạng (ví dụ 10.0.0.5, "
                                 "10.0.0.0/24)") from None
        return proxies

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


class ConfigNotFound(NotFound):
    """The configuration file named with --config does not exist or cannot be read."""

    code = "config_not_found"


class ConfigInvalid(InvalidInput):
    """The configuration file or a BROADCASTER_* variable holds something we cannot use."""

    code = "config_invalid"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: file values, then BROADCASTER_* variables, then explicit overrides.

    A missing or unreadable file, an unknown key, a bad value or a malformed variable is a
    ``ConfigNotFound`` / ``ConfigInvalid`` naming the file, key or variable, in Vietnamese.
    """
    file_values = _read_file(config_file) if config_file is not None else {}
    try:
        # pydantic-settings gives init kwargs priority over the environment; apply the file below it.
        env_settings = Settings(**overrides)
        merged = {**file_values, **env_settings.model_dump(exclude_unset=True), **overrides}
        return Settings(**merged)
    except SettingsError as error:
        field = str(error).split('"')[1] if str(error).count('"') >= 2 else "?"
        raise ConfigInvalid(
            f"Biến môi trường BROADCASTER_{field.upper()} không đọc được (danh sách phải viết dạng JSON, "
            'ví dụ BROADCASTER_ENGINES=\'["gtts","espeak"]\').', detail=str(error),
        ) from None
    except ValidationError as error:
        where = f"Tệp cấu hình {config_file}" if config_file is not None else "Cấu hình"
        raise ConfigInvalid(f"{where} không hợp lệ: {_describe(error)}", detail=str(error)) from None


def _read_file(config_file: Path) -> dict[str, Any]:
    try:
        text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigNotFound(f"Không có tệp cấu hình {config_file}.", detail=str(config_file)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigNotFound(f"Không đọc được tệp cấu hình {config_file}.", detail=str(error)) from None
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigInvalid(f"Tệp cấu hình {config_file} không phải YAML hợp lệ.", detail=str(error)) from None
    if not isinstance(values, dict):
        raise ConfigInvalid(f"Tệp cấu hình {config_file} phải là một bảng «khóa: giá trị».",
                            detail=type(values).__name__)
    return values


def _describe(error: ValidationError) -> str:
    from broadcaster.field_errors import describe_fields

    parts = []
    for raw, described in zip(error.errors(), describe_fields(error.errors()), strict=True):
        if raw.get("type") == "extra_forbidden":
            parts.append(f"khóa «{described['field']}» không có trong cấu hình (viết sai tên?)")
        elif raw.get("type") == "value_error":
            parts.append(str(raw.get("ctx", {}).get("error", described["message"])))
        else:
            parts.append(f"«{described['field']}»: {described['message']}")
    return "; ".join(parts)
