"""Local emulator of the Pluggy API and of the Pluggy Connect script (stdlib only). See README.md."""

from .server import Emulator, start_emulator

__all__ = ["Emulator", "start_emulator"]
