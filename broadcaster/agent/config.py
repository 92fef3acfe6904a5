"""The agent's configuration: a small YAML file, command-line flags on top.

Example (``/etc/broadcaster/agent.yaml``, as ``broadcaster speaker config`` prints it)::

    cluster_id: "3"
    server_url: https://loa.xa-an-binh.vn        # pull, reports, heartbeats: {server_url}/api/agent/...
    server_public_keys:                         # base64 (raw 32 bytes) or PEM; several during a key change
      - "yUu0G2m5Wd8o4m3rHcE1nHQ4W7m8jv0Jw1a0QZ0u1ZI="
    transport: pull                             # pull (default: dial out) | mqtt | http (LAN push)
    secret_file: /etc/broadcaster/agent.secret   # or `secret:`; the box's credential
    state_dir: /var/lib/broadcaster-agent
    player: aplay
    player_options: {device: default}
    volume: 90

With ``transport: http`` the agent listens on ``host:port`` (default 127.0.0.1:8700) for the
server's pushes; with ``pull`` and ``mqtt`` it listens on no port at all. ``mqtt`` needs an
``mqtt:`` block (url, username, topic_prefix, and for TLS ca_file / cert_file / key_file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from broadcaster.delivery.orders import CLUSTER_ID_PATTERN
from broadcaster.errors import InvalidInput


class AgentConfigError(InvalidInput):
    """The agent's configuration file or flags are wrong."""

    code = "agent_config_invalid"


class MqttAgentSettings(BaseModel):
    """How the agent reaches its broker; the password derives from the agent's secret unless given."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^mqtts?://[^/]+$", description="mqtt://host:1883 or mqtts://host:8883")
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr | None = None
    topic_prefix: str = Field(default="broadcaster", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=15, ge=5, le=600)


class AgentConfig(BaseModel):
    """Everything one agent needs to know; built by ``load_agent_config``."""

    model_config = ConfigDict(extra="forbid")

    cluster_id: str = Field(pattern=CLUSTER_ID_PATTERN)
    server_url: str = Field(description="base URL of the server for reports and heartbeats")
    server_public_keys: list[str] = Field(min_length=1, description="base64 or PEM Ed25519 keys")
    secret: SecretStr | None = None
    secret_file: Path | None = None
    transport: Literal["pull", "mqtt", "http"] = "pull"
    host: str = Field(default="127.0.0.1", description="http push only: the address to listen on")
    port: int = Field(default=8700, ge=0, le=65535, description="http push only; 0 picks a free port (agent.json)")
    mqtt: MqttAgentSettings | None = None
    pull_wait_s: float = Field(default=25.0, gt=0, le=300, description="how long one poll waits on the server")
    state_dir: Path = Path("agent-state")
    player: str = "aplay"
    player_options: dict[str, Any] = Field(default_factory=dict)
    volume: int = Field(default=100, ge=0, le=100)
    heartbeat_interval_s: float = Field(default=60.0, gt=0)
    retry_initial_s: float = Field(default=1.0, gt=0, description="first retry delay (downloads, reports)")
    retry_max_s: float = Field(default=60.0, gt=0)
    request_timeout_s: float = Field(default=15.0, gt=0)
    # Below this much free space in state_dir the agent reports itself degraded (downloads need room).
    min_free_disk_bytes: int = Field(default=50 * 1024**2, ge=0)
    # Decoding a long programme takes a moment on a Pi: do it this long before play_at.
    prepare_lead_s: float = Field(default=5.0, ge=0)
    # A box whose clock is this far off, simulated (tests and demonstrations; 0 on a real box).
    clock_skew_s: float = Field(default=0.0, ge=-1e9, le=1e9)
    # The player thread takes over this long before play_at and fine-waits for the exact instant.
    start_lead_s: float = Field(default=0.5, gt=0)

    @model_validator(mode="after")
    def _one_secret(self) -> AgentConfig:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret and secret_file")
        if self.transport == "mqtt" and self.mqtt is None:
            raise ValueError("transport mqtt needs an mqtt block")
        return self

    def report_secret(self) -> str:
        """The cluster's credential (its keys derive from it), read from the file if configured so."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        assert self.secret_file is not None
        try:
            return self.secret_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise AgentConfigError(
                f"Không đọc được tệp khóa bí mật của cụm loa: {self.secret_file}.", detail=str(error)
            ) from None


def load_agent_config(path: Path | None, **overrides: Any) -> AgentConfig:
    """Read the YAML file (if any), apply non-None overrides, validate."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise AgentConfigError(f"Không đọc được tệp cấu hình {path}.", detail=str(error)) from None
        if not isinstance(loaded, dict):
            raise AgentConfigError(f"Tệp cấu hình {path} phải là một bảng khóa: giá trị.")
        values.update(loaded)
    given = {key: value for key, value in overrides.items() if value is not None}
    if "secret_file" in given:
        values.pop("secret", None)  # a flag's secret file replaces the file's inline secret
    values.update(given)
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(chung)" for e in error.errors())
        raise AgentConfigError(
            f"Cấu hình cụm loa không hợp lệ ở: {fields}.", detail=str(error)[:1000]
        ) from None
