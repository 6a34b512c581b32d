"""Where uploaded bytes live: a local directory (default) or an S3-compatible bucket.

Every stored file is addressed by a generated key (``2026/11/media_01J....png``) and served
back under one stable URL, ``<public_base_url>/media/files/<key>``, whatever the backend:
the local backend streams the file, the S3 backend redirects to a short-lived presigned URL.
Original filenames are never part of a key.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Protocol

from atelier.platform.settings import Settings

# Generated keys only: segments of safe characters, no "..", no absolute paths.
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
MEDIA_ROUTE = "/media/files"
PRESIGNED_TTL_SECONDS = 300


class InvalidKey(ValueError):
    """A key that a generated key could never be (a traversal attempt, usually)."""


def check_key(key: str) -> str:
    if len(key) > 512 or not _KEY_RE.match(key) or ".." in key:
        raise InvalidKey(key)
    return key


def public_url(settings: Settings, key: str) -> str:
    """The stable URL under which ``key`` is served."""
    return f"{settings.public_base_url.rstrip('/')}{MEDIA_ROUTE}/{check_key(key)}"


class Storage(Protocol):
    """A storage backend. ``put`` takes a finished local file (uploads are spooled first)."""

    name: str

    def put(self, key: str, source: Path, *, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path | None:
        """The file on disk for ``key`` (local backend), else ``None``."""
        ...

    def download_url(self, key: str) -> str | None:
        """A short-lived URL to fetch ``key`` from (remote backends), else ``None``."""
        ...


class LocalStorage:
    """Files under ``root``; writes are atomic (temp file + rename)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        root = self.root.resolve()
        path = (root / check_key(key)).resolve()
        # Belt and braces: even a key that passed the pattern must resolve inside the root.
        if not path.is_relative_to(root):
            raise InvalidKey(key)
        return path

    def put(self, key: str, source: Path, *, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def download_url(self, key: str) -> str | None:
        return None


class S3Storage:
    """An S3-compatible bucket through boto3 (AWS, MinIO, R2, ...)."""

    name = "s3"

    def __init__(self, bucket: str, client: Any, *, prefix: str = "") -> None:
        self.bucket = bucket
        self.client = client
        self.prefix = prefix.strip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3

        if not settings.s3_bucket:
            raise ValueError("ATELIER_S3_BUCKET is required when ATELIER_STORAGE_BACKEND=s3")
        secret = settings.s3_secret_access_key
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
        )
        return cls(settings.s3_bucket, client)

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: Path, *, content_type: str) -> None:
        with source.open("rb") as body:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._object_key(key),
                Body=body,
                ContentType=content_type,
            )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError:
            return False
        return True

    def local_path(self, key: str) -> Path | None:
        return None

    def download_url(self, key: str) -> str | None:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._object_key(key)},
            ExpiresIn=PRESIGNED_TTL_SECONDS,
        )
        return url


_lock = threading.Lock()
_backends: dict[int, tuple[Settings, Storage]] = {}


def get_storage(settings: Settings) -> Storage:
    """The backend configured by ``settings`` (one instance per settings object)."""
    with _lock:
        cached = _backends.get(id(settings))
        if cached is not None and cached[0] is settings:
            return cached[1]
        backend: Storage
        if settings.storage_backend == "s3":
            backend = S3Storage.from_settings(settings)
        else:
            backend = LocalStorage(settings.storage_dir)
        _backends[id(settings)] = (settings, backend)
        return backend


def use_storage(settings: Settings, backend: Storage) -> None:
    """Install ``backend`` for ``settings`` (tests use it to plug in a stubbed S3 client)."""
    with _lock:
        _backends[id(settings)] = (settings, backend)
