"""The first schema: runs, their result and comparison tables, and data cards.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _floats(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Float(53)) for n in names]


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_run_id", sa.String(32)),
        sa.UniqueConstraint("name", "fingerprint", name="uq_datasets_name_fingerprint"),
        sa.UniqueConstraint("name", "version", name="uq_datasets_name_version"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("assay_version", sa.String(40), nullable=False),
        sa.Column("python_version", sa.String(40), nullable=False),
        sa.Column("platform", sa.String(200), nullable=False),
        sa.Column("packages", sa.JSON, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("command", sa.Text),
        sa.Column("base_dir", sa.Text, nullable=False),
        sa.Column("folder", sa.Text),
        sa.Column("n_rows", sa.Integer),
        sa.Column("excluded", sa.JSON),
        sa.Column("verdict", sa.String(40)),
        sa.Column("exit_code", sa.Integer),
        sa.Column("verdict_detail", sa.JSON),
        sa.Column("curves", sa.JSON),
        sa.Column("examples", sa.JSON),
        sa.Column("manifest", sa.JSON),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id")),
        sa.Column("rerun_of", sa.String(32)),
        sa.Column("reproduced", sa.Boolean),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_name_started", "runs", ["name", "started_at"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "results",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("slice", sa.Text, nullable=False),
        sa.Column("dimension", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        *_floats("value", "ci_low", "ci_high"),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        *_floats("gap", "gap_low", "gap_high"),
    )
    op.create_index("ix_results_run", "results", ["run_id", "position"])
    op.create_table(
        "comparisons",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("baseline", sa.Text, nullable=False),
        sa.Column("candidate", sa.Text, nullable=False),
        sa.Column("slice", sa.Text, nullable=False),
        sa.Column("dimension", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        *_floats("baseline_value", "candidate_value", "delta", "ci_low", "ci_high", "p_value",
                 "p_adjusted"),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("higher_is_better", sa.Boolean),
        *_floats("se", "discordance", "mdd"),
    )
    op.create_index("ix_comparisons_run", "comparisons", ["run_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_run", "comparisons")
    op.drop_table("comparisons")
    op.drop_index("ix_results_run", "results")
    op.drop_table("results")
    op.drop_index("ix_runs_status", "runs")
    op.drop_index("ix_runs_name_started", "runs")
    op.drop_table("runs")
    op.drop_table("datasets")
