"""``python3 -m tools.pluggy_emulator [--port 8787 --seed 42 ...]``."""

from .server import main

main()
