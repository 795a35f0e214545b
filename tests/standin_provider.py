"""A stand-in for the google and azurerm provider plugins, so the real `terraform validate`
can judge GKE and AKS roots on a machine where those providers cannot be installed.

What is real: Terraform itself (parsing, module loading, type checking of every
argument, block, expression and reference against the provider's schema, and for
`plan` the evaluation of every expression, `for_each`, `count` and `dynamic` block on
kfstack's actual inputs) and the schema, served from the offline files in
`../shared/provider-schemas` over the real plugin protocol (tfplugin6, gRPC). What is
stood in: the provider's own logic. Its validate calls accept everything (Terraform's
schema checks happen before the provider is asked); its plan keeps what the
configuration says and marks what the cloud would compute as unknown, as a real plan
does; a data source returns placeholder values; nothing can be applied.

Two adjustments make the offline files behave like the real plugins:

- The files spell every block that allows one instance as `single`; the google,
  azurerm and aws providers (Plugin SDK v2) declare those as lists of at most one,
  which is what makes references like `master_auth[0].cluster_ca_certificate` valid.
  `single` is served as `LIST` with max_items 1.
- The files list arguments only (see their README), but a configuration also reads
  attributes the provider computes. `COMPUTED` adds the ones kfstack's modules read,
  each as documented under "Attributes Reference" in the provider's docs. A reference
  to anything else fails, as it would against the real schema.

Terraform reaches the server through `TF_REATTACH_PROVIDERS` (its documented hook for
debugging providers), so no plugin binary or `init` download is involved.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import msgpack
from tfplugin_proto import tfplugin6_5_pb2 as pb
from tfplugin_proto import tfplugin6_5_pb2_grpc as rpc

# resource or data source type → attribute path → cty type (JSON form). A dotted path
# adds the attribute inside a nested block.
COMPUTED: dict[str, dict[str, Any]] = {
    "google_compute_network": {"self_link": "string"},
    "google_compute_subnetwork": {"self_link": "string"},
    "google_service_account": {"email": "string"},
    "google_container_cluster": {
        "endpoint": "string",
        "master_auth.cluster_ca_certificate": "string",
    },
    "data.google_container_engine_versions": {
        "latest_master_version": "string",
        "latest_node_version": "string",
    },
    "azurerm_kubernetes_cluster": {
        "fqdn": "string",
        "oidc_issuer_url": "string",
        "kube_config": [
            "list",
            [
                "object",
                {
                    "client_certificate": "string",
                    "client_key": "string",
                    "cluster_ca_certificate": "string",
                    "host": "string",
                    "password": "string",
                    "username": "string",
                },
            ],
        ],
        "kubelet_identity.object_id": "string",
    },
}

_NESTING = {
    "single": pb.Schema.NestedBlock.LIST,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}


def _block(raw: dict[str, Any], computed: dict[str, Any]) -> pb.Schema.Block:
    block = pb.Schema.Block(version=0)
    names = set()
    for name, attr in sorted((raw.get("attributes") or {}).items()):
        names.add(name)
        block.attributes.append(
            pb.Schema.Attribute(
                name=name,
                type=json.dumps(attr["type"]).encode(),
                required=bool(attr.get("required")),
                optional=not attr.get("required"),
                # The Plugin SDK declares every resource's `id` optional and computed.
                computed=name == "id" and not attr.get("required"),
            )
        )
    for path, type_ in computed.items():
        if "." not in path and path not in names:
            block.attributes.append(
                pb.Schema.Attribute(name=path, type=json.dumps(type_).encode(), computed=True)
            )
    for name, nested in sorted((raw.get("block_types") or {}).items()):
        inner = {
            path.split(".", 1)[1]: type_
            for path, type_ in computed.items()
            if path.startswith(name + ".")
        }
        mode = nested.get("nesting_mode", "list")
        most = 1 if mode == "single" else int(nested.get("max_items") or 0)
        least = 1 if nested.get("required") else int(nested.get("min_items") or 0)
        block.block_types.append(
            pb.Schema.NestedBlock(
                type_name=name,
                block=_block(nested.get("block") or {}, inner),
                nesting=_NESTING[mode],
                min_items=least,
                max_items=most,
            )
        )
    return block


def provider_schema(path: Path) -> pb.GetProviderSchema.Response:
    """The GetProviderSchema response for the offline schema file at `path`."""
    raw = json.loads(Path(path).read_text())
    (_, schema), *_ = raw["provider_schemas"].items()
    response = pb.GetProviderSchema.Response(
        provider=pb.Schema(version=0, block=_block(schema["provider"]["block"], {}))
    )
    for kind, field, prefix in (
        ("resource_schemas", response.resource_schemas, ""),
        ("data_source_schemas", response.data_source_schemas, "data."),
    ):
        for name, entry in (schema.get(kind) or {}).items():
            field[name].CopyFrom(
                pb.Schema(version=0, block=_block(entry["block"], COMPUTED.get(prefix + name, {})))
            )
    return response


# cty's msgpack encoding of an unknown value (go-cty msgpack: extension type 0).
UNKNOWN = msgpack.ExtType(0, b"")


def _unknown_when_unset(type_name: str) -> tuple[set[str], dict[str, set[str]]]:
    """What a real plan shows as "known after apply" when the configuration leaves it
    unset: the id and the computed attributes in `COMPUTED`, and, for a block holding
    computed attributes, one instance whose computed attributes are unknown."""
    computed = COMPUTED.get(type_name, {})
    attributes = {"id"} | {path for path in computed if "." not in path}
    blocks: dict[str, set[str]] = {}
    for path in computed:
        if "." in path:
            block, inner = path.split(".", 1)
            blocks.setdefault(block, set()).add(inner)
    return attributes, blocks


def _empty_instance(block: pb.Schema.Block, unknown: set[str]) -> dict[str, Any]:
    """One instance of `block` with every attribute null (or unknown) and no sub-blocks."""
    value: dict[str, Any] = {
        a.name: UNKNOWN if a.name in unknown else None for a in block.attributes
    }
    for nested in block.block_types:
        value[nested.type_name] = [] if nested.nesting in _COLLECTIONS else None
    return value


_COLLECTIONS = (pb.Schema.NestedBlock.LIST, pb.Schema.NestedBlock.SET)


def _decode(value: pb.DynamicValue) -> Any:
    return msgpack.unpackb(value.msgpack, raw=False, strict_map_key=False)


def _encode(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=msgpack.packb(value, use_bin_type=True))


class _Provider(rpc.ProviderServicer):
    def __init__(self, schema: pb.GetProviderSchema.Response) -> None:
        self.schema = schema

    def ConfigureProvider(self, request, context):  # noqa: N802
        return pb.ConfigureProvider.Response()

    def PlanResourceChange(self, request, context):  # noqa: N802
        proposed = _decode(request.proposed_new_state)
        if not isinstance(proposed, dict):  # a destroy: nothing to plan
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        attributes, blocks = _unknown_when_unset(request.type_name)
        for name in attributes:
            if name in proposed and proposed[name] is None:
                proposed[name] = UNKNOWN
        schema = self.schema.resource_schemas[request.type_name].block
        for nested in schema.block_types:
            if nested.type_name in blocks and not proposed.get(nested.type_name):
                proposed[nested.type_name] = [
                    _empty_instance(nested.block, blocks[nested.type_name])
                ]
        # As the Plugin SDK v2 providers do: their plans may fill in blocks the
        # configuration left out, which Terraform accepts from legacy-type-system plans.
        return pb.PlanResourceChange.Response(
            planned_state=_encode(proposed), legacy_type_system=True
        )

    def ReadDataSource(self, request, context):  # noqa: N802
        state = _decode(request.config)
        attributes, _ = _unknown_when_unset("data." + request.type_name)
        prefix = state.get("version_prefix") or ""
        for name in attributes:
            if state.get(name) is None:
                # Placeholders shaped like the real values, marked as stand-ins.
                state[name] = f"{prefix}0-standin" if "version" in name else "standin"
        return pb.ReadDataSource.Response(state=_encode(state))

    def GetProviderSchema(self, request, context):  # noqa: N802 - gRPC method names
        return self.schema

    def ValidateProviderConfig(self, request, context):  # noqa: N802
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):  # noqa: N802
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request, context):  # noqa: N802
        return pb.ValidateDataResourceConfig.Response()

    def StopProvider(self, request, context):  # noqa: N802
        return pb.StopProvider.Response()


class StandIn:
    """Serve offline schemas as providers; `env()` is what `terraform` needs to use them."""

    def __init__(self, schemas: dict[str, Path]) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="kfstack-standin-")
        self._servers: list[grpc.Server] = []
        self.reattach: dict[str, Any] = {}
        for name, path in schemas.items():
            socket = os.path.join(self._tmp.name, f"{name}.sock")
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            rpc.add_ProviderServicer_to_server(_Provider(provider_schema(path)), server)
            server.add_insecure_port(f"unix://{socket}")
            server.start()
            self._servers.append(server)
            self.reattach[f"registry.terraform.io/hashicorp/{name}"] = {
                "Protocol": "grpc",
                "ProtocolVersion": 6,
                "Pid": os.getpid(),
                "Test": True,
                "Addr": {"Network": "unix", "String": socket},
            }

    def env(self) -> dict[str, str]:
        return dict(
            os.environ, TF_REATTACH_PROVIDERS=json.dumps(self.reattach), CHECKPOINT_DISABLE="1"
        )

    def close(self) -> None:
        for server in self._servers:
            server.stop(grace=None)
        self._tmp.cleanup()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
