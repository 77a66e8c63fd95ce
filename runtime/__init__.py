"""Code that runs in AWS (Lambda, Glue) and on a laptop. Never imports pulumi."""
