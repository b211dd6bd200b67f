"""The library tests' fixtures (real Kindle files, service contexts, subscriber rows), shared.

Tests run with --import-mode=importlib, so a conftest cannot import another; this one loads
tests/library/conftest.py by path and re-exports its fixtures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parent.parent / "library" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_clippost_library_fixtures", _path)
assert _spec is not None
assert _spec.loader is not None
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

ctx = _shared.ctx
kindle_bytes = _shared.kindle_bytes
make_ctx = _shared.make_ctx
make_library = _shared.make_library
new_subscriber = _shared.new_subscriber
subscriber_id = _shared.subscriber_id
