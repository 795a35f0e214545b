"""The render's speed measures change nothing they touch: every document parses to what
PyYAML's safe loader (YAML 1.1, like the API server's decoder) makes of it, an object
post-render leaves alone is written exactly as kustomize printed it, builds are ordered
by the time each took last, and a GOGC the user set wins over kfstack's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml

from installer.platform import documents as _documents
from installer.platform import kustomize as _kustomize
from installer.platform import render as _render

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

WORDS = [
    *("yes Yes YES no No NO on On ON off Off OFF y n true True TRUE false False".split()),
    *("null Null NULL ~ = << .inf -.Inf .NaN .nAn +.5 -.5 .5 1. 0644 0o17 0x1F 0b101".split()),
    *("1e3 1.0e+3 1_000 _1 1:30 190:20:30.15 2001-12-14 1.29.0 v1 8080 -0 3.14".split()),
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "!!str 1",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "'0644'",
    '"yes"',
]
# Every short token over the characters numbers are made of, in every place a plain
# scalar can stand: where yaml_rs (YAML 1.2, and lax about numbers) and PyYAML could read
# one differently, the fallback must take over.
TOKENS = WORDS + [
    "".join(c) for n in (1, 2, 3) for c in itertools.product("0_1.eE+-:ox", repeat=n)
]


def _places(token: str) -> list[str]:
    return [
        f"a: {token}\n",
        f"l:\n- {token}\n",
        f"{token}: 1\n",
        f"f: [{token}, 1]\n",
        f"m: {{k: {token}}}\n",
        f"a: {token} # note\n",
    ]


def test_every_scalar_reads_as_pyyaml_reads_it():
    checked = 0
    for token in TOKENS:
        for text in _places(token):
            try:
                want = yaml.load(text, Loader=_Loader)
            except (yaml.YAMLError, ValueError):
                continue  # PyYAML cannot read it (`0x`): not YAML kustomize prints
            assert repr(_documents.parse(text)) == repr(want), text
            checked += 1
    assert checked > 5000


def test_plain_documents_take_the_fast_path(monkeypatch):
    if _documents.yaml_rs is None:
        pytest.skip("yaml-rs is not installed here: every document is read by PyYAML")

    def no_pyyaml(*args, **kwargs):
        raise AssertionError("fell back to PyYAML")

    monkeypatch.setattr(_documents.yaml, "load", no_pyyaml)
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  port: '8080'\n"
    assert _documents.parse(text)["data"] == {"port": "8080"}


def test_a_document_yaml_rs_rejects_is_read_by_pyyaml_which_names_the_error():
    assert _documents.parse("a: 1\na: 2\n") == {"a": 2}  # duplicate keys: PyYAML's last wins
    with pytest.raises(yaml.YAMLError):
        _documents.parse("a: [1, 2\n")


def test_split_keeps_each_documents_text_and_drops_empty_ones():
    raw = "a: 1\n---\n---\nb: |\n  --- not a marker\n---\nc: 3"
    assert _documents.split(raw) == ["a: 1\n", "b: |\n  --- not a marker\n", "c: 3\n"]
    assert _documents.join(["a: 1\n", "c: 3\n"]) == "---\na: 1\n---\nc: 3\n"


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0
        ports:
        - containerPort: 8080
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: web-token
  namespace: demo
stringData:
  token: s3cr3t-value
"""


def _build(tmp_path: Path, mirror: str | None) -> tuple[dict, str]:
    folder = tmp_path / "010-web"
    folder.mkdir()
    (folder / "objects.yaml").write_text(DEPLOYMENT + "---\n" + SECRET)
    (folder / "kustomization.yaml").write_text("resources:\n- objects.yaml\n")
    kz = _kustomize.find()
    job = _render._Job(
        name="web",
        folder=str(folder),
        kustomize=kz,
        secret_sources={},
        extra_secrets=[],
        post={"mirror": mirror, "pull_secret": bool(mirror)},
        k8s_schema="v1.34.0",
        cache=str(tmp_path / "cache"),
        digest="sha256:" + "ab" * 32,
    )
    raw = kz.build(folder, "web")
    text, _ = _render._build(job)
    return json.loads(text), raw


def test_an_untouched_object_is_written_as_kustomize_printed_it_and_secrets_leave(tmp_path):
    data, raw = _build(tmp_path, mirror=None)
    deployment = next(t for t in _documents.split(raw) if "kind: Deployment" in t)
    assert data["manifests"] == "---\n" + deployment
    assert "s3cr3t" not in data["manifests"]
    assert [s["name"] for s in data["secrets"]] == ["web-token"]
    assert data["images"] == ["ghcr.io/acme/web:1.0"]
    assert _render._cache_get(tmp_path / "cache", "sha256:" + "ab" * 32) == data


def test_an_object_post_render_changes_is_written_from_its_new_content(tmp_path):
    data, _ = _build(tmp_path, mirror="registry.corp/kf")
    (obj,) = [d for d in yaml.load_all(data["manifests"], Loader=_Loader) if d]
    pod = obj["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.corp/kf/ghcr.io/acme/web:1.0"
    assert pod["imagePullSecrets"] == [{"name": "kfstack-registry"}]


def test_builds_start_longest_first_by_the_time_each_took_last(tmp_path):
    costs = _render._Costs(tmp_path, "26.03")
    assert costs.expected("kserve", 10) > costs.expected("dex", 1)  # estimates, never timed
    costs.measured.update({"kserve": 0.5, "dex": 2.0})
    costs.save()
    again = _render._Costs(tmp_path, "26.03")
    assert again.expected("dex", 1) > again.expected("kserve", 10)
    assert _render._Costs(tmp_path, "v1.11.0").expected("dex", 1) < 1.0  # per release
    (tmp_path / _render._Costs.FILE).write_text("not json")
    assert _render._Costs(tmp_path, "26.03").expected("dex", 1) == pytest.approx(0.3)


def test_kustomize_builds_run_with_a_tuned_collector_unless_the_user_set_one(monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.setenv("GOMEMLIMIT", "512MiB")
    env = _kustomize.build_env()
    assert (env["GOGC"], env["GOMEMLIMIT"]) == (_kustomize.GO_ENV["GOGC"], "512MiB")
    monkeypatch.setenv("GOGC", "100")
    assert _kustomize.build_env()["GOGC"] == "100"
