"""Write-audit-publish: Glue Python-shell steps over Athena (or DuckDB locally).

Everything in this package runs on Python 3.9 with boto3 only on its production path.
"""
