"""Send assay runs to other tools. Each integration is an optional extra, imported only when used:

    assay.integrations.mlflow.log_run   an evaluation as an MLflow run (pip install 'assay[mlflow]')
"""

__all__: list[str] = []
