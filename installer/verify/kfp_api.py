"""A small client for the Kubeflow Pipelines v2beta1 REST API, as a team member uses it.

Requests go through the platform's gateway (`https://<domain>/pipeline`) with a
Kubernetes service-account token of a team's profile as `Authorization: Bearer`: the
istio gateway and oauth2-proxy accept those tokens for machine-to-machine access and
pass the identity to the KFP API server, which authorises it against the namespace.
That makes the client a test of the whole path a CI job takes, not just of KFP.

    KfpClient.run_pipeline(name, ir_yaml)          (used by `kfstack verify`)
      1. find or create the experiment `kfstack-verify` in the team's namespace
      2. POST /apis/v2beta1/runs with the compiled pipeline spec inline
      3. GET /apis/v2beta1/runs/{id} until a terminal state or the deadline
         (on timeout the run is terminated so no GPU stays held)
      → RunResult: state, duration, and for a failed run the failed tasks with their
        error messages, pod names and (given a `logs` callback) their logs

Errors: `KfpForbidden` (HTTP 403: the token's identity may not use that namespace),
`KfpApiError` (any other non-2xx answer, or an unreachable API), `RunTimeout`. Response
shapes follow the published v2beta1 API (kfp-server-api's models): runs carry `run_id`,
`state` (PENDING, RUNNING, SUCCEEDED, SKIPPED, FAILED, CANCELING, CANCELED, PAUSED),
`error` (google.rpc.Status) and `run_details.task_details[]`; error bodies are
google.rpc.Status JSON (`code`, `message`, `details`).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from installer import redact
from installer.console import Reporter
from installer.errors import KfstackError

LOG = logging.getLogger("kfstack.verify.kfp")

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
EXPERIMENT = "kfstack-verify"


class KfpApiError(KfstackError):
    """The KFP API answered with an error status, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        self.status = status
        self.body = body
        super().__init__(message)


class KfpForbidden(KfpApiError):
    """HTTP 403: the caller's identity may not act in the namespace it asked for."""


class RunTimeout(KfstackError):
    """The run did not reach a terminal state before the deadline."""

    def __init__(self, run_id: str, state: str, seconds: float) -> None:
        self.run_id = run_id
        self.state = state
        super().__init__(f"run {run_id} still {state} after {seconds:.0f}s; it was terminated")


@dataclass
class FailedTask:
    name: str
    state: str
    pod: str | None
    error: str | None
    logs: str | None = None

    def render(self) -> str:
        text = f"step {self.name}: {self.state}"
        if self.error:
            text += f": {self.error}"
        if self.pod:
            text += f" (pod {self.pod})"
        if self.logs:
            tail = "\n    ".join(self.logs.strip().splitlines()[-20:])
            text += f"\n    {tail}"
        return text


@dataclass
class RunResult:
    run_id: str
    state: str
    seconds: float
    error: str | None = None
    failed_tasks: list[FailedTask] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    def explain(self) -> str:
        """Why the run did not succeed: the run's error, then each failed step."""
        lines = [f"run {self.run_id} {self.state}"]
        if self.error:
            lines[0] += f": {self.error}"
        lines += [task.render() for task in self.failed_tasks]
        return "\n  ".join(lines)


LogFetcher = Callable[[str, str], str]


class KfpClient:
    """One identity (a Bearer token) acting in one namespace through `base_url`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        namespace: str,
        *,
        ca_file: str | None = None,
        insecure: bool = False,
        request_timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.namespace = namespace
        self._token = token
        redact.register(token)
        self._timeout = request_timeout
        self._ssl: ssl.SSLContext | None = None
        if self.base_url.startswith("https://"):
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if insecure:  # the platform's own self-signed certificate, named by the caller
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    # ------------------------------------------------------------------ transport

    def _request(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> dict[str, Any]:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        LOG.debug("%s %s", method, url)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._ssl) as r:
                text = r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            message = _error_message(text) or exc.reason
            LOG.debug("%s %s -> %d %s", method, url, exc.code, text[:2000])
            kind = KfpForbidden if exc.code == 403 else KfpApiError
            raise kind(
                f"KFP API {method} {path}: HTTP {exc.code}: {message}", status=exc.code, body=text
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KfpApiError(f"KFP API at {self.base_url} is unreachable: {reason}") from None
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            # An HTML sign-in page means the gateway did not accept the token.
            raise KfpApiError(
                f"KFP API {method} {path} answered with non-JSON (a sign-in page?): {text[:120]!r}"
            ) from None

    # ------------------------------------------------------------------ API calls

    def list_runs(self, namespace: str | None = None, page_size: int = 1) -> list[dict[str, Any]]:
        """Runs in `namespace` (default: the client's). Raises KfpForbidden, KfpApiError."""
        query = {"namespace": namespace or self.namespace, "page_size": str(page_size)}
        return self._request("GET", "/apis/v2beta1/runs", query=query).get("runs", [])

    def ensure_experiment(self, name: str = EXPERIMENT) -> str:
        """The id of experiment `name` in the namespace, created if missing.

        Raises:
            KfpForbidden, KfpApiError.
        """
        predicate = {"key": "display_name", "operation": "EQUALS", "string_value": name}
        found = self._request(
            "GET",
            "/apis/v2beta1/experiments",
            query={"namespace": self.namespace, "filter": json.dumps({"predicates": [predicate]})},
        )
        for experiment in found.get("experiments", []):
            if experiment.get("display_name") == name:
                return experiment["experiment_id"]
        created = self._request(
            "POST",
            "/apis/v2beta1/experiments",
            {"display_name": name, "namespace": self.namespace},
        )
        return created["experiment_id"]

    def create_run(
        self,
        display_name: str,
        pipeline_document: dict[str, Any],
        experiment_id: str,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """Submit a run of an inline pipeline spec; returns its id. Raises KfpApiError."""
        body = {
            "display_name": display_name,
            "experiment_id": experiment_id,
            "pipeline_spec": pipeline_document,
            "runtime_config": {"parameters": parameters or {}},
        }
        run = self._request("POST", "/apis/v2beta1/runs", body)
        return run["run_id"]

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._request("GET", f"/apis/v2beta1/runs/{urllib.parse.quote(run_id)}")

    def terminate_run(self, run_id: str) -> None:
        self._request("POST", f"/apis/v2beta1/runs/{urllib.parse.quote(run_id)}:terminate", {})

    # ------------------------------------------------------------------ workflows

    def wait(
        self,
        run_id: str,
        *,
        timeout: float,
        poll: float = 5.0,
        logs: LogFetcher | None = None,
        reporter: Reporter | None = None,
    ) -> RunResult:
        """Poll the run until it is terminal.

        Raises:
            RunTimeout: still running at the deadline (the run is terminated first).
            KfpApiError: the API failed while polling.
        """
        started = time.monotonic()
        state = "PENDING"
        while True:
            run = self.get_run(run_id)
            state = run.get("state") or "RUNTIME_STATE_UNSPECIFIED"
            elapsed = time.monotonic() - started
            if state in TERMINAL:
                return self._result(run_id, run, state, elapsed, logs)
            if reporter is not None:
                reporter.progress(f"run {run_id[:8]}", int(elapsed), None, state.lower())
            if elapsed >= timeout:
                try:
                    self.terminate_run(run_id)
                except KfpApiError as exc:
                    LOG.warning("could not terminate run %s: %s", run_id, exc)
                raise RunTimeout(run_id, state, elapsed)
            time.sleep(min(poll, timeout - elapsed))

    def run_pipeline(
        self,
        display_name: str,
        pipeline_document: dict[str, Any],
        *,
        timeout: float = 900.0,
        poll: float = 5.0,
        parameters: dict[str, Any] | None = None,
        logs: LogFetcher | None = None,
        reporter: Reporter | None = None,
    ) -> RunResult:
        """Submit the pipeline in the namespace and wait for it (steps in the module doc).

        Raises:
            KfpForbidden, KfpApiError, RunTimeout.
        """
        experiment = self.ensure_experiment()
        run_id = self.create_run(display_name, pipeline_document, experiment, parameters)
        LOG.info("submitted run %s (%s) in %s", run_id, display_name, self.namespace)
        return self.wait(run_id, timeout=timeout, poll=poll, logs=logs, reporter=reporter)

    def _result(
        self,
        run_id: str,
        run: dict[str, Any],
        state: str,
        seconds: float,
        logs: LogFetcher | None,
    ) -> RunResult:
        result = RunResult(run_id, state, seconds, error=_status_message(run.get("error")))
        if state == "SUCCEEDED":
            return result
        tasks = (run.get("run_details") or {}).get("task_details") or []
        for task in tasks:
            if task.get("state") not in {"FAILED", "CANCELED"}:
                continue
            # The DAG driver's own task entries have no pod; the executor's carry it.
            pod = task.get("pod_name") or None
            failed = FailedTask(
                name=task.get("display_name") or task.get("task_id", "?"),
                state=task["state"],
                pod=pod,
                error=_status_message(task.get("error")),
            )
            if pod and logs is not None:
                try:
                    failed.logs = logs(self.namespace, pod)
                except KfstackError as exc:
                    failed.logs = f"(logs unavailable: {exc.message})"
            result.failed_tasks.append(failed)
        return result


def _status_message(status: Any) -> str | None:
    if isinstance(status, dict):
        return status.get("message") or None
    return None


def _error_message(text: str) -> str | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text.strip()[:200] or None
    if isinstance(data, dict):
        return data.get("message") or data.get("error") or None
    return None
