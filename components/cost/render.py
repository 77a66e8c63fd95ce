"""The estimate as a table for people or as JSON for CI."""

from __future__ import annotations

import json

from components.cost.estimate import Estimate


def as_json(estimate: Estimate) -> str:
    return json.dumps(
        {
            "stack": estimate.stack,
            "region": estimate.region,
            "total_usd": round(estimate.total, 4),
            "by_service": {k: round(v, 4) for k, v in estimate.by_service().items()},
            "resources": [
                {
                    "resource": line.resource,
                    "type": line.type,
                    "service": line.service,
                    "usd": round(line.usd, 4),
                    "driver": line.driver,
                }
                for line in estimate.lines
            ],
            "drivers": [
                {
                    "resource": d.resource,
                    "service": d.service,
                    "usd": round(d.usd, 4),
                    "driver": d.driver,
                }
                for d in estimate.drivers()
            ],
            "resources_without_charge": estimate.unpriced,
            "athena_scan": estimate.scan.statement,
            "free_tiers_not_deducted": [
                {"service": f.service, "allowance": f.allowance, "source": f.source}
                for f in estimate.prices.free_tiers
            ],
            "usage_files": [str(path) for path in estimate.usage.sources],
            "unverified_prices": _unverified(estimate),
        },
        indent=2,
    )


def as_table(estimate: Estimate) -> str:
    lines = sorted(estimate.lines, key=lambda line: (line.service, -line.usd, line.resource))
    width = max([len(line.resource) for line in lines] + [8])
    service_width = max([len(line.service) for line in lines] + [7])
    out = [
        f"stack {estimate.stack} ({estimate.region}): estimated monthly cost, USD, on-demand",
        "",
        f"{'resource':<{width}}  {'service':<{service_width}}  {'monthly':>9}  driven by",
    ]
    out += [
        f"{line.resource:<{width}}  {line.service:<{service_width}}  {line.usd:>9.2f}  "
        f"{line.driver}"
        for line in lines
    ]
    out += ["", "by service:"]
    out += [
        f"  {service:<{service_width}}  {usd:>9.2f}"
        for service, usd in estimate.by_service().items()
    ]
    out += [
        "",
        f"total: ${estimate.total:.2f} a month ({len(lines)} charges; "
        f"{estimate.unpriced} resources carry no charge of their own)",
        "largest drivers:",
    ]
    out += [
        f"  {n}. {d.resource} ({d.service}) ${d.usd:.2f}: {d.driver}"
        for n, d in enumerate(estimate.drivers(), 1)
    ]
    out += ["", estimate.scan.statement + "."]
    out += ["free tiers, shown apart and not deducted:"]
    out += [f"  {f.service}: {f.allowance}" for f in estimate.prices.free_tiers]
    unverified = _unverified(estimate)
    out += [
        f"prices: {estimate.prices.path.name} ({estimate.region}); unverified: "
        + (", ".join(unverified) or "none"),
        "usage: " + ", then ".join(str(path) for path in estimate.usage.sources),
    ]
    return "\n".join(out) + "\n"


def _unverified(estimate: Estimate) -> list[str]:
    used = {line.service for line in estimate.lines}
    return sorted(
        price.item
        for price in estimate.prices.prices.values()
        if not price.verified and price.service in used
    )
