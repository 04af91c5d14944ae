"""Analyses: each run's fairness, calibration, threshold and segment tables and chart data.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite >= 3.35 drops columns in place): a batch migration would copy
# and drop ``runs``, and the foreign keys' ON DELETE CASCADE would empty the result tables.


def upgrade() -> None:
    op.add_column("runs", sa.Column("analyses", sa.JSON))


def downgrade() -> None:
    op.drop_column("runs", "analyses")
