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
