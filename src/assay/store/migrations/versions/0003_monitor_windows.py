"""Monitor windows: each monitor's computed windows, so a later run computes only new ones.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor", sa.String(200), nullable=False),
        sa.Column("config_sha256", sa.String(64), nullable=False),
        sa.Column("window", sa.String(64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True)),
        sa.Column("end", sa.DateTime(timezone=True)),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.String(40), nullable=False),
        sa.Column("n_labelled", sa.Integer, nullable=False),
        sa.Column("label_hash", sa.String(40), nullable=False),
        sa.Column("tables", sa.JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("monitor", "config_sha256", "window", name="uq_monitor_windows_window"),
    )
    op.create_index("ix_monitor_windows_monitor", "monitor_windows", ["monitor", "config_sha256"])


def downgrade() -> None:
    op.drop_index("ix_monitor_windows_monitor", "monitor_windows")
    op.drop_table("monitor_windows")
