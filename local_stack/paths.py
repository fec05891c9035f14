"""Where the project is and where its local stacks keep their state (`LOCAL_STATE_DIR`,
by default `.local/`): the one place every room takes them from, importing nothing."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")
