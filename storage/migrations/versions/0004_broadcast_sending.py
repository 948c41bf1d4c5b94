"""Broadcast sending: a campaign's image, button, template variables and planning mark; a delivery's channel
(claimed per channel, in id order, through a new index) and the time a retried delivery may go again.

Existing deliveries take their subscriber's channel.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("button_title", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("button_payload", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("template_variables", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE deliveries SET channel = "
        "(SELECT subscribers.channel FROM subscribers WHERE subscribers.id = deliveries.subscriber_id)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=20), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_campaign_id_channel_status_id"),
            ["campaign_id", "channel", "status", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_campaign_id_channel_status_id"))
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("channel")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("planned_at")
        batch_op.drop_column("template_variables")
        batch_op.drop_column("button_payload")
        batch_op.drop_column("button_title")
        batch_op.drop_column("image_url")
