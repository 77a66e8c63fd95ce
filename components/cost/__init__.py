"""`make cost`: what a stack costs a month, from its resources under the plan's mocks.

The program runs under the same mocks as `make plan` (components.plan); each registered
resource is priced from the price table kept here (prices.toml: region, unit, price, the
pricing page and the date read), with the per-run minimums AWS bills; usage that
configuration cannot know comes from a usage file in Infracost's shape (usage.yml holds the
documented defaults; USAGE=path overrides them); Athena's scan comes from the bytes the
local engine measured (measured_scan.json, written by benchmarks/cost_scan.py).
"""
