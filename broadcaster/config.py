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
    # Engines tried in order; the first that speaks wins (offline first on the embedded default).
    engines: list[str] = Field(default_factory=lambda: ["espeak"])
    voice: str | None = None
    lexicon_paths: list[Path] = Field(default_factory=list, description="commune lexicons (TSV)")
    gtts_base_url: str = Field(default="https://translate.google.com", description="gTTS endpoint host")
    gtts_timeout_s: float = Field(default=10.0, gt=0)
    public_url: str = Field(default="http://127.0.0.1:8000")

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
