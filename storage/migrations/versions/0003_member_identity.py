"""Members keep their personal values sealed together in `identity_enc` (one seal per row instead of seven:
the bulk import and the status look-up are the hot paths).

Sealed values cannot be converted here (the migration has no key), so this upgrade needs an empty members
table: on a database that already holds members, export what you need, `jamsosbot erase` or delete them,
upgrade, and import again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("kpj_enc", "nik_enc", "full_name_enc", "birth_date_enc", "phone_enc", "address_enc", "income_base_enc")


def _require_empty() -> None:
    if op.get_bind().execute(sa.text("SELECT 1 FROM members LIMIT 1")).first() is not None:
        raise RuntimeError(
            "members holds rows sealed in the old layout; remove them (and import again after upgrading)"
        )


def upgrade() -> None:
    _require_empty()
    with op.batch_alter_table("members", schema=None) as batch_op:
        for name in OLD:
            batch_op.drop_column(name)
        batch_op.add_column(sa.Column("identity_enc", sa.LargeBinary(), nullable=False))


def downgrade() -> None:
    _require_empty()
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("identity_enc")
        for name in OLD:
            required = name in ("kpj_enc", "nik_enc", "full_name_enc", "birth_date_enc")
            batch_op.add_column(sa.Column(name, sa.LargeBinary(), nullable=not required))
