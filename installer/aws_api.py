"""The few AWS API calls kfstack makes itself, through boto3; Terraform makes the rest.

- `check_credentials(region)`: STS GetCallerIdentity before any Terraform run, so a
  missing or rejected credential is a `CredentialsError` (exit 2) with the fix, not a
  provider stack trace halfway through a plan.
- `ensure_state_store(...)`: the S3 bucket (versioned, encrypted, public access
  blocked) and DynamoDB lock table of the Terraform S3 backend, created when missing.
- `eks_token(cluster, region)`: a bearer token for the EKS API server, made exactly as
  `aws eks get-token` does: a presigned STS GetCallerIdentity URL whose signature
  covers the `x-k8s-aws-id: <cluster>` header, base64url-encoded after `k8s-aws-v1.`.

Credentials and endpoints come only from the standard AWS environment and profiles
(`AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL` ...), as for the AWS provider.
"""

from __future__ import annotations

import base64
import datetime as _dt
import logging
from typing import Any

import boto3
import botocore.exceptions as bexc

from installer import redact
from installer.console import Reporter
from installer.errors import CredentialsError, KfstackError

LOG = logging.getLogger("kfstack.aws_api")

CREDENTIALS_HINT = (
    "set AWS_PROFILE (after `aws sso login` or `aws configure`), or export "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
# EKS accepts tokens for 15 minutes; kubectl asks again a minute before expiry.
TOKEN_LIFETIME = _dt.timedelta(minutes=14)
_TOKEN_PREFIX = "k8s-aws-v1."


def session(region: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def _api_error(action: str, exc: Exception) -> KfstackError:
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return CredentialsError(f"no AWS credentials found ({action})", hint=CREDENTIALS_HINT)
    if isinstance(exc, bexc.ProfileNotFound):
        return CredentialsError(f"{exc} ({action})", hint="fix AWS_PROFILE or ~/.aws/config")
    if isinstance(exc, bexc.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code in {
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "UnrecognizedClientException",
            "AccessDenied",
            "AccessDeniedException",
        }:
            return CredentialsError(
                f"AWS rejected the credentials ({action}): {code}: {message}",
                hint=CREDENTIALS_HINT,
            )
        return KfstackError(f"AWS {action} failed: {code}: {message}")
    if isinstance(exc, bexc.EndpointConnectionError):
        return KfstackError(
            f"cannot reach AWS ({action}): {exc}",
            hint="check the network, or AWS_ENDPOINT_URL if you set one",
        )
    return KfstackError(f"AWS {action} failed: {exc}")


def check_credentials(region: str) -> dict[str, str]:
    """The caller identity (Account, Arn, UserId).

    Raises:
        CredentialsError: no credentials, or AWS rejected them.
        KfstackError: AWS cannot be reached.
    """
    try:
        identity = session(region).client("sts").get_caller_identity()
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        raise _api_error("sts:GetCallerIdentity", exc) from None
    LOG.debug("AWS identity %s", identity.get("Arn"))
    return {k: identity[k] for k in ("Account", "Arn", "UserId") if k in identity}


def ensure_state_store(
    *, bucket: str, table: str | None, region: str, reporter: Reporter
) -> list[str]:
    """Create the state bucket and lock table when missing; returns what was created.

    Raises:
        CredentialsError: not allowed to read or create them.
        KfstackError: any other AWS failure (bucket name taken by another account ...).
    """
    created: list[str] = []
    aws = session(region)
    s3 = aws.client("s3")
    try:
        try:
            s3.head_bucket(Bucket=bucket)
        except bexc.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                raise
            reporter.line(f"creating state bucket s3://{bucket}")
            args: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**args)
            created.append(f"s3://{bucket}")
        # Applied every time: a bucket made by hand gets the same protection.
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        if table:
            dynamodb = aws.client("dynamodb")
            try:
                dynamodb.describe_table(TableName=table)
            except dynamodb.exceptions.ResourceNotFoundException:
                reporter.line(f"creating lock table {table}")
                dynamodb.create_table(
                    TableName=table,
                    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST",
                )
                dynamodb.get_waiter("table_exists").wait(TableName=table)
                created.append(f"dynamodb:{table}")
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        raise _api_error("creating the Terraform state store", exc) from None
    return created


def eks_token(cluster: str, region: str) -> tuple[str, _dt.datetime]:
    """A bearer token for cluster `cluster` and its expiry (UTC).

    Raises:
        CredentialsError: no usable credentials.
    """
    try:
        sts = session(region).client("sts")
    except bexc.BotoCoreError as exc:
        raise _api_error("sts client", exc) from None

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    try:
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET"
        )
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        raise _api_error("presigning sts:GetCallerIdentity", exc) from None
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    token = _TOKEN_PREFIX + encoded
    redact.register(token)
    return token, _dt.datetime.now(_dt.UTC) + TOKEN_LIFETIME


def exec_credential(cluster: str, region: str) -> dict[str, Any]:
    """The ExecCredential document a kubeconfig exec plugin prints.

    Raises:
        CredentialsError: no usable credentials.
    """
    token, expires = eks_token(cluster, region)
    return {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {
            "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "token": token,
        },
    }


def describe_cluster(cluster: str, region: str) -> dict[str, Any]:
    """EKS DescribeCluster.

    Raises:
        CredentialsError: credentials missing or rejected.
        KfstackError: the cluster does not exist or AWS cannot be reached.
    """
    try:
        return session(region).client("eks").describe_cluster(name=cluster)["cluster"]
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        raise _api_error(f"eks:DescribeCluster {cluster}", exc) from None
