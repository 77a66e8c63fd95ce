"""python -m components.cost [STACK] [--usage PATH] [--format table|json] [--prices PATH]

What STACK (Pulumi.<STACK>.yaml) costs a month: the program under the plan's mocks, each
resource priced from the price table with the usage file's numbers. Exit 2 with one line on
stderr for a bad usage file, price table or stack name; 1 when the stack's configuration is
invalid (as `make plan`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from components.cost.errors import CostInputError
from components.cost.estimate import estimate
from components.cost.prices import PRICE_TABLE, load_prices
from components.cost.render import as_json, as_table
from components.cost.usage import load_usage
from components.plan import (
    PROJECT_ROOT,
    StackMocks,
    install_mocks,
    run_program,
    stack_config,
    stacks,
)


def main(argv: list[str] | None = None, mocks: StackMocks | None = None) -> int:
    """`mocks`: the process's installed mocks (tests); by default they are installed here."""
    parser = argparse.ArgumentParser(prog="python -m components.cost", description=__doc__)
    parser.add_argument("stack", nargs="?", default="dev", help="stack (default: dev)")
    parser.add_argument("--usage", type=Path, help="a usage file read over usage.yml")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    # Tests point these at a price table and a directory of stack files of their own.
    parser.add_argument("--prices", type=Path, default=PRICE_TABLE, help=argparse.SUPPRESS)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = stacks(args.project_dir)
    if args.stack not in known:
        print(f"error: unknown stack {args.stack!r}; stacks: {', '.join(known)}", file=sys.stderr)
        return 2
    try:
        config, _ = stack_config(args.stack, args.project_dir)
        region = config.get("aws:region")
        if not region:
            raise CostInputError(f"Pulumi.{args.stack}.yaml: aws:region: not set")
        prices = load_prices(region, args.prices)
        if mocks is None:
            mocks = StackMocks()
            install_mocks(mocks, args.stack)
        resources = run_program(mocks, args.stack, project_dir=args.project_dir).resources
        usage = load_usage(args.usage, {r.name: r.type for r in resources})
    except CostInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return 1
    result = estimate(args.stack, region, resources, prices, usage)
    print(as_json(result) if args.format == "json" else as_table(result), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
