"""S3-compatible object storage for snapshots, checkpoints and evidence bundles.

Every object is written once under object lock in COMPLIANCE mode, so neither Gantral
nor an operator can delete or shorten it before retention ends; a later overwrite can
only add a version, which content addressing makes detectable. boto3 is blocking, so
calls run in a thread.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from gantral.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ObjectStore"]

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _missing(error: ClientError) -> bool:
    return _code(error) in _MISSING


class ObjectStore:
    def __init__(
        self, client: S3Client, bucket: str, retention_days: int, *, prefix: str = ""
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.retention_days = retention_days
        # Namespaces several logs in one bucket (tests, benchmarks); empty in production.
        self.prefix = prefix

    @classmethod
    def from_settings(
        cls, s3: S3Settings, *, bucket: str | None = None, prefix: str = ""
    ) -> ObjectStore:
        key_id = s3.access_key_id.get_secret_value() or None
        secret = s3.secret_access_key.get_secret_value() or None
        client = boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name=s3.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        return cls(client, bucket or s3.bucket, s3.retention_days, prefix=prefix)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not _missing(error):
                raise
            self._client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        self._client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    async def put_locked(self, key: str, data: bytes, *, overwrite: bool = False) -> None:
        """Write once under COMPLIANCE retention; an existing key is left alone unless asked."""
        await asyncio.to_thread(self._put_locked, key, data, overwrite)

    def _put_locked(self, key: str, data: bytes, overwrite: bool) -> None:
        retain = datetime.now(UTC) + timedelta(days=self.retention_days)
        # Write-once by a conditional PUT (`If-None-Match: *`, answered 412 when the key
        # exists): one request, not a HEAD and then a PUT. AWS S3, MinIO and SeaweedFS
        # honour it (docs/deployment.md).
        once: dict[str, Any] = {} if overwrite else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain,
                **once,
            )
        except ClientError as error:
            if not overwrite and _code(error) == "PreconditionFailed":
                return  # already there: left alone
            raise

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return response["Body"].read()

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    def _keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        while True:
            page = self._client.list_objects_v2(**kwargs)
            skip = len(self.prefix)
            found += [obj["Key"][skip:] for obj in page.get("Contents", []) if "Key" in obj]
            if not page.get("IsTruncated"):
                return found
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def full_key(self, key: str) -> str:
        return self.prefix + key

    def raw_client(self) -> S3Client:
        """For operators and tests (e.g. proving a locked version cannot be deleted)."""
        return self._client
