"""Play back-ends: ``null`` (real-time paced, silent; tests), ``aplay`` and ``ffmpeg`` (ALSA on a real box)."""

from broadcaster.agent.players.base import (
    LoadedAudio,
    Playback,
    Player,
    PlayerError,
    UnknownPlayer,
    create_player,
    player_names,
    register_player,
)

__all__ = [
    "LoadedAudio",
    "Playback",
    "Player",
    "PlayerError",
    "UnknownPlayer",
    "create_player",
    "player_names",
    "register_player",
]
