"""`kfstack catalog`: the GPU instance types kfstack knows, with specs and hourly prices."""

from __future__ import annotations

import click

from installer import catalog as _catalog
from installer.commands import common
from installer.console import Run

SPOT_NOTE = "spot prices are indicative (they move hourly); on-demand are list prices"


@click.command("catalog")
@click.option("--target", help="aws, gcp or azure [default: all three].")
@click.option("--region", help="Only this region (Azure: location).")
@click.option("--gpu", help="Only this GPU model, e.g. L4, A100-80GB, H100.")
@common.output_option
@common.debug_option
@common.kfstack_command("catalog")
def command(
    run: Run, target: str | None, region: str | None, gpu: str | None, output: str, debug: bool
) -> int:
    """List GPU instance types: GPUs, GPU memory, vCPU, RAM, on-demand and spot $/hour.

    \b
    Examples:
      kfstack catalog --target aws --region us-east-1
      kfstack catalog --gpu H100 -o json
    """
    offers = _catalog.offers(target, region, gpu)
    cat = _catalog.load()
    clouds = [target] if target else list(_catalog.CLOUDS)
    dates = {c: cat.cloud(c).as_of for c in clouds}
    if output == "json":
        run.emit_json(
            {
                "as_of": dates,
                "currency": "USD",
                "note": SPOT_NOTE,
                "offers": [
                    {
                        "cloud": o.cloud,
                        "instance": o.instance,
                        "gpu": o.gpu,
                        "gpu_count": o.gpu_count,
                        "gpu_memory_gb": o.gpu_memory_gb,
                        "vcpu": o.vcpu,
                        "memory_gb": o.memory_gb,
                        "region": o.region,
                        "on_demand_per_hour": o.on_demand,
                        "spot_per_hour": o.spot,
                        "as_of": o.as_of,
                    }
                    for o in offers
                ],
            }
        )
        return 0
    if not offers:
        run.echo("no GPU instance type matches those filters")
    else:
        run.echo(_table(offers))
    run.echo(
        "\nUSD per instance-hour, Linux; figures as of "
        + ", ".join(f"{c} {d}" for c, d in dates.items())
        + f"; {SPOT_NOTE}."
    )
    return 0


def _table(offers: list[_catalog.Offer]) -> str:
    header = ("CLOUD", "INSTANCE", "GPUS", "GPU MEM", "VCPU", "RAM", "REGION", "ON-DEMAND", "SPOT")
    rows = [header] + [
        (
            o.cloud,
            o.instance,
            f"{o.gpu_count} x {o.gpu}",
            f"{o.total_gpu_memory_gb} GB",
            str(o.vcpu),
            f"{o.memory_gb:g} GB",
            o.region,
            f"${o.on_demand:.3f}",
            f"${o.spot:.3f}",
        )
        for o in offers
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    numeric = {3, 4, 5, 7, 8}
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )
