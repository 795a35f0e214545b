"""The pinned sources: digests, the download path, and vendoring of remote bases."""

from __future__ import annotations

import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import find_shared
from platform_support import VERSIONS

from installer.errors import KfstackError, UserError
from installer.platform import sources as _sources
from installer.platform import vendor as _vendor

SHARED = find_shared()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="checks the ../shared offline copies themselves"
)


@needs_shared
@pytest.mark.parametrize("version", VERSIONS)
def test_the_shared_release_copies_match_the_pinned_digests(version):
    entry = _sources.catalog().release(version)
    tree = SHARED / "kubeflow-manifests" / version
    assert _sources.tree_digest(tree, entry.keep) == entry.digest


@needs_shared
def test_the_shared_remote_bases_and_addons_match_the_pinned_digests():
    cat = _sources.catalog()
    for entry in cat.remotes.values():
        tree = SHARED / "kubeflow-manifests" / "remote" / entry.offline
        assert _sources.tree_digest(tree, entry.keep) == entry.digest, entry.key
    for entry in cat.addons.values():
        tree = SHARED / "addon-manifests" / entry.offline
        assert _sources.tree_digest(tree, entry.keep) == entry.digest, entry.key


def test_the_filter_drops_scripts_docs_hack_folders_and_unit_tests():
    keep = ("applications", "common", "LICENSE")
    assert _sources.keep_path("common/dex/base/kustomization.yaml", keep)
    assert _sources.keep_path("LICENSE", keep)
    for dropped in (
        "README.md",
        "common/dex/README.md",
        "common/dex/hack/gen.yaml",
        "applications/x/install.sh",
        "applications/x/Makefile",
        "applications/x/OWNERS",
        "applications/x/sync_test.py",
        "applications/x/test_sync.py",
        "applications/x/main_test.go",
        "tests/e2e.yaml",
    ):
        assert not _sources.keep_path(dropped, keep), dropped


def test_the_digest_changes_with_any_byte_or_path(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("kind: A\n")
    first = _sources.tree_digest(tmp_path)
    (tmp_path / "a" / "x.yaml").write_text("kind: B\n")
    second = _sources.tree_digest(tmp_path)
    (tmp_path / "a" / "x.yaml").rename(tmp_path / "a" / "y.yaml")
    third = _sources.tree_digest(tmp_path)
    assert len({first, second, third}) == 3


def _tarball(files: dict[str, bytes], top: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def archive_server():
    """A local HTTP server (ephemeral port) standing in for GitHub's tag archives."""
    payloads: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's API
            body = payloads.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", payloads
    finally:
        server.shutdown()
        server.server_close()


def _entry(url: str, digest: str) -> _sources.SourceEntry:
    return _sources.SourceEntry(
        key="demo",
        project="kubeflow/demo",
        tag="v1",
        commit="0" * 40,
        digest=digest,
        keep=("common", "LICENSE"),
        url=url,
    )


def test_a_download_is_filtered_verified_and_cached(tmp_path, archive_server):
    base, payloads = archive_server
    wanted = {"common/a/kustomization.yaml": b"resources: []\n", "LICENSE": b"Apache\n"}
    junk = {"common/a/README.md": b"# doc\n", "hack/x.sh": b"echo\n", "docs/y.yaml": b"x: 1\n"}
    payloads["/demo.tar.gz"] = _tarball({**wanted, **junk}, "demo-v1")
    expected = tmp_path / "expected"
    for name, data in wanted.items():
        (expected / name).parent.mkdir(parents=True, exist_ok=True)
        (expected / name).write_bytes(data)
    entry = _entry(f"{base}/demo.tar.gz", _sources.tree_digest(expected, ("common", "LICENSE")))
    srcs = _sources.Sources(cache=tmp_path / "cache")

    got = srcs._cached(entry)
    assert got.origin == "download"
    assert _sources.tree_files(got.path) == sorted(wanted)
    payloads.clear()  # a second resolve must not touch the network
    assert srcs._cached(entry).origin == "cache"


def test_a_download_that_does_not_match_its_digest_is_rejected_and_not_cached(
    tmp_path, archive_server
):
    base, payloads = archive_server
    payloads["/demo.tar.gz"] = _tarball({"common/a.yaml": b"tampered: true\n"}, "demo-v1")
    srcs = _sources.Sources(cache=tmp_path / "cache")
    with pytest.raises(KfstackError, match="does not match the pinned digest"):
        srcs._cached(_entry(f"{base}/demo.tar.gz", "sha256:" + "0" * 64))
    assert not (tmp_path / "cache" / "sources" / "demo").exists()


def test_offline_without_a_cached_copy_names_the_cache_and_the_fix(tmp_path):
    srcs = _sources.Sources(cache=tmp_path / "cache", offline=True)
    with pytest.raises(UserError, match="offline") as err:
        srcs.release("26.03")
    assert "kubeflow.manifests" in (err.value.hint or "")


def test_a_local_directory_that_is_not_a_release_is_a_user_error(tmp_path):
    srcs = _sources.Sources(release_dir=tmp_path, cache=tmp_path / "cache")
    with pytest.raises(UserError, match="not a Kubeflow release tree"):
        srcs.release("26.03")


def test_vendoring_rewrites_every_remote_url_to_the_vendored_copies(sources_for_version):
    bundle = _vendor.prepare(sources_for_version("26.03"), "26.03")
    rewritten = bundle.manifest["rewritten"]
    assert "applications/trainer/upstream/third-party/jobset/kustomization.yaml" in rewritten
    for rel in rewritten:
        text = (bundle.kubeflow / rel).read_text()
        refs = [ln for ln in text.splitlines() if ln.strip().startswith("- ")]
        assert not [ln for ln in refs if "https://" in ln], rel
    # The same inputs land in the same bundle (no second copy).
    again = _vendor.prepare(sources_for_version("26.03"), "26.03")
    assert again.root == bundle.root


def test_a_release_referring_to_an_unpinned_url_fails_naming_file_and_url(tmp_path):
    tree = tmp_path / "kubeflow" / "applications" / "x"
    tree.mkdir(parents=True)
    (tree / "kustomization.yaml").write_text("resources:\n- https://github.com/evil/repo?ref=v1\n")
    with pytest.raises(KfstackError, match=r"applications/x/kustomization.yaml.*evil/repo"):
        _vendor._rewrite_remote_urls(
            tmp_path / "kubeflow", tmp_path / "remote", _sources.catalog()
        )


@pytest.mark.integration
# One release is enough here (each costs a full build); the render matrix builds every
# component of all three from the vendored bundles, and the benchmark builds all examples.
@pytest.mark.parametrize(("version", "objects"), [("26.03", 675)])
def test_the_vendored_example_builds_offline_with_the_documented_object_count(
    sources_for_version, version, objects
):
    from platform_support import plain_count

    bundle = _vendor.prepare(sources_for_version(version), version)
    assert plain_count(str(bundle.kubeflow), "example") == objects
    assert Path(bundle.kubeflow / "LICENSE").exists()
