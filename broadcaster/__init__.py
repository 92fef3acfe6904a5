"""broadcaster: Vietnamese text-to-speech bulletins for commune smart-loudspeaker networks."""

__version__ = "0.1.0"
