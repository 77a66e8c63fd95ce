"""Ingestion: Alpha Vantage TIME_SERIES_DAILY to the raw zone."""
