"""The GPU and instance catalog: facts shipped as data in `installer/catalog/data/`.

It answers validation ("did you mean", "offered in these regions"), picks an instance
type for a GPU pool that names only a GPU model, and prices pools for cost estimates.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from installer.errors import UserError

CLOUDS = ("aws", "gcp", "azure")


@dataclass(frozen=True)
class Gpu:
    model: str
    memory_gb: int
    architecture: str
    gcp_accelerator: str | None
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Price:
    on_demand: float
    spot: float

    def hourly(self, spot: bool) -> float:
        return self.spot if spot else self.on_demand


@dataclass(frozen=True)
class Instance:
    cloud: str
    name: str
    vcpu: int
    memory_gb: float
    gpu: str | None
    gpu_count: int
    prices: dict[str, Price]

    @property
    def regions(self) -> list[str]:
        return sorted(self.prices)


@dataclass(frozen=True)
class CloudCatalog:
    cloud: str
    as_of: str
    currency: str
    regions: dict[str, list[str]]
    instances: dict[str, Instance]

    def instance(self, name: str) -> Instance | None:
        return self.instances.get(name)

    def gpu_instances(self, model: str | None = None, region: str | None = None) -> list[Instance]:
        """GPU instances, optionally of one model and offered in one region, cheapest first."""
        found = [
            inst
            for inst in self.instances.values()
            if inst.gpu
            and (model is None or inst.gpu == model)
            and (region is None or region in inst.prices)
        ]
        return sorted(found, key=lambda i: (min(p.on_demand for p in i.prices.values()), i.name))

    def pick_instance(self, model: str, count: int, region: str) -> Instance | None:
        """The cheapest instance in `region` with exactly `count` GPUs of `model`."""
        options = [i for i in self.gpu_instances(model, region) if i.gpu_count == count]
        return min(options, key=lambda i: i.prices[region].on_demand, default=None)

    def suggest_instance(self, name: str) -> str | None:
        match = difflib.get_close_matches(name, list(self.instances), n=1, cutoff=0.6)
        return match[0] if match else None


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, Gpu]
    clouds: dict[str, CloudCatalog]

    def cloud(self, name: str) -> CloudCatalog:
        return self.clouds[name]

    def resolve_gpu(self, name: str) -> str | None:
        """The canonical model name for `name` (case-insensitive, aliases allowed)."""
        lowered = name.lower()
        for model, gpu in self.gpus.items():
            if lowered == model.lower() or lowered in (a.lower() for a in gpu.aliases):
                return model
        return None

    def suggest_gpu(self, name: str) -> str | None:
        names = {m.lower(): m for m in self.gpus}
        for gpu in self.gpus.values():
            names.update({a.lower(): gpu.model for a in gpu.aliases})
        match = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.5)
        return names[match[0]] if match else None


def _read(name: str) -> dict:
    text = resources.files("installer.catalog").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The shipped catalog (parsed once per process)."""
    gpus = {
        model: Gpu(
            model=model,
            memory_gb=int(raw["memory_gb"]),
            architecture=str(raw["architecture"]),
            gcp_accelerator=raw.get("gcp"),
            aliases=tuple(raw.get("aliases") or ()),
        )
        for model, raw in _read("gpus.yaml").items()
    }
    clouds = {}
    for cloud in CLOUDS:
        raw = _read(f"{cloud}.yaml")
        instances = {}
        for name, item in raw["instances"].items():
            gpu = item.get("gpu")
            if gpu is not None and gpu not in gpus:
                raise ValueError(f"catalog {cloud}.yaml: {name} names unknown GPU {gpu}")
            instances[name] = Instance(
                cloud=cloud,
                name=name,
                vcpu=int(item["vcpu"]),
                memory_gb=float(item["memory_gb"]),
                gpu=gpu,
                gpu_count=int(item.get("gpu_count", 0)),
                prices={r: Price(float(p[0]), float(p[1])) for r, p in item["prices"].items()},
            )
        clouds[cloud] = CloudCatalog(
            cloud=cloud,
            as_of=str(raw["as_of"]),
            currency=str(raw["currency"]),
            regions={r: [str(z) for z in zones] for r, zones in raw["regions"].items()},
            instances=instances,
        )
    return Catalog(gpus=gpus, clouds=clouds)


# ---------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Offer:
    """One GPU instance type in one region, as `kfstack catalog` lists it."""

    cloud: str
    instance: str
    gpu: str
    gpu_count: int
    gpu_memory_gb: int
    vcpu: int
    memory_gb: float
    region: str
    on_demand: float
    spot: float
    as_of: str

    @property
    def total_gpu_memory_gb(self) -> int:
        return self.gpu_count * self.gpu_memory_gb


def offers(
    target: str | None = None, region: str | None = None, gpu: str | None = None
) -> list[Offer]:
    """GPU instance types per region, filtered, ordered by cloud, GPU model, count, price.

    Raises:
        UserError: an unknown target, region or GPU model (with a "did you mean").
    """
    cat = load()
    clouds = list(CLOUDS)
    if target is not None:
        if target not in CLOUDS:
            raise _unknown("target", target, CLOUDS, "the catalog covers aws, gcp and azure")
        clouds = [target]
    model = None
    if gpu is not None:
        model = cat.resolve_gpu(gpu)
        if model is None:
            guess = cat.suggest_gpu(gpu)
            raise UserError(
                f"unknown GPU model {gpu!r}",
                hint=(f"did you mean {guess}? " if guess else "")
                + "known: "
                + ", ".join(cat.gpus),
            )
    if region is not None:
        known = [r for c in clouds for r in cat.cloud(c).regions]
        if region not in known:
            where = f"{target}'s" if target else "the catalog's"
            raise _unknown("region", region, known, f"{where} regions: " + ", ".join(known))
    found = []
    for cloud in clouds:
        data = cat.cloud(cloud)
        for inst in data.gpu_instances(model, region):
            assert inst.gpu is not None
            for where, price in sorted(inst.prices.items()):
                if region is None or where == region:
                    found.append(
                        Offer(
                            cloud=cloud,
                            instance=inst.name,
                            gpu=inst.gpu,
                            gpu_count=inst.gpu_count,
                            gpu_memory_gb=cat.gpus[inst.gpu].memory_gb,
                            vcpu=inst.vcpu,
                            memory_gb=inst.memory_gb,
                            region=where,
                            on_demand=price.on_demand,
                            spot=price.spot,
                            as_of=data.as_of,
                        )
                    )
    rank = {name: index for index, name in enumerate(cat.gpus)}
    cheapest: dict[str, float] = {}
    for offer in found:
        cheapest[offer.instance] = min(
            cheapest.get(offer.instance, offer.on_demand), offer.on_demand
        )
    # Grouped by GPU model and count; within a group the cheaper type first, its regions together.
    return sorted(
        found,
        key=lambda o: (
            CLOUDS.index(o.cloud),
            rank[o.gpu],
            o.gpu_count,
            cheapest[o.instance],
            o.instance,
            o.region,
        ),
    )


def _unknown(what: str, value: str, known, listing: str) -> UserError:
    match = difflib.get_close_matches(value, list(known), n=1, cutoff=0.5)
    hint = (f"did you mean {match[0]}? " if match else "") + listing
    return UserError(f"unknown {what} {value!r}", hint=hint)
