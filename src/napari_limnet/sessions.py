"""Deprecated import path: saved session files live in :mod:`napari_limnet.session_files` (renamed after 0.2.0)."""

from .session_files import *  # noqa: F401,F403 - the old public import path keeps working
from .session_files import ReplayResult, SessionRecord, replay, session_path_for  # noqa: F401
