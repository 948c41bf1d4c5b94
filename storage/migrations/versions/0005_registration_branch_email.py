"""Registrations keep the branch office the member chose and an e-mail address (sealed), the two fields of
domain.md §5.1 the first schema lacked.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("branch_office", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("branch_office")
        batch_op.drop_column("email_enc")
