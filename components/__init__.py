"""Pulumi component resources that compose the stockpipe stack."""
