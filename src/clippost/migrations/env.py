"""Alembic environment: always run on a connection handed over by clippost.db.migrate.

clippost never lets Alembic open its own connection: `migrate.upgrade()` opens one with the
application's own engine (async drivers, SQLite pragmas) and passes it in, so migrating from
inside a running event loop (serve, worker) and from the CLI is the same code path.
"""

from __future__ import annotations

from alembic import context

import clippost.models  # noqa: F401  (registers every table on Base.metadata)
from clippost.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `clippost db upgrade`, not the alembic command.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
