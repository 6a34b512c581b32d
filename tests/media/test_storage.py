from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fastapi.testclient import TestClient

from atelier.media.storage import InvalidKey, LocalStorage, S3Storage, get_storage, use_storage
from atelier.media.uploads import UploadReceiver, clean_filename, sniff_mime
from atelier.platform.db import Database
from atelier.platform.errors import TooLarge
from atelier.platform.settings import Settings
from tests.media.support import EXE, JPEG, PDF, PNG, world


def _s3_client():  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url="http://s3.test.invalid",
    )


class TestLocalStorage:
    def test_put_and_read_back(self, tmp_path: Path) -> None:
        store = LocalStorage(tmp_path / "store")
        src = tmp_path / "src.png"
        src.write_bytes(PNG)
        store.put("2026/11/media_X.png", src, content_type="image/png")
        path = store.local_path("2026/11/media_X.png")
        assert path is not None and path.read_bytes() == PNG
        assert store.exists("2026/11/media_X.png")
        store.delete("2026/11/media_X.png")
        assert not store.exists("2026/11/media_X.png")

    @pytest.mark.parametrize(
        "key", ["../x", "/etc/passwd", "a/../../b", ".hidden", "a//b", "a\\b", "a/./b", ""]
    )
    def test_unsafe_keys_are_refused(self, tmp_path: Path, key: str) -> None:
        with pytest.raises(InvalidKey):
            LocalStorage(tmp_path).local_path(key)

    def test_symlink_out_of_root_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        root.mkdir()
        (tmp_path / "secret.png").write_bytes(PNG)
        (root / "link.png").symlink_to(tmp_path / "secret.png")
        with pytest.raises(InvalidKey):
            LocalStorage(root).local_path("link.png")


class TestS3Storage:
    def test_put_delete_and_presign_without_network(self, tmp_path: Path) -> None:
        client = _s3_client()
        store = S3Storage("atelier-media", client, prefix="media")
        src = tmp_path / "a.png"
        src.write_bytes(PNG)
        with Stubber(client) as stub:
            stub.add_response(
                "put_object",
                {},
                {
                    "Bucket": "atelier-media",
                    "Key": "media/2026/11/media_X.png",
                    "Body": ANY,
                    "ContentType": "image/png",
                },
            )
            stub.add_response(
                "delete_object", {}, {"Bucket": "atelier-media", "Key": "media/2026/11/media_X.png"}
            )
            store.put("2026/11/media_X.png", src, content_type="image/png")
            store.delete("2026/11/media_X.png")
            stub.assert_no_pending_responses()
        url = store.download_url("2026/11/media_X.png")
        assert url is not None
        assert url.startswith("http://s3.test.invalid/atelier-media/media/2026/11/media_X.png?")
        assert "Signature" in url or "X-Amz-Signature" in url
        assert store.local_path("2026/11/media_X.png") is None

    def test_from_settings_needs_a_bucket(self) -> None:
        settings = Settings(storage_backend="s3")
        with pytest.raises(ValueError, match="ATELIER_S3_BUCKET"):
            S3Storage.from_settings(settings)

    def test_settings_choose_the_backend(self, tmp_path: Path) -> None:
        local = Settings(storage_dir=tmp_path)
        assert isinstance(get_storage(local), LocalStorage)
        s3 = Settings(
            storage_backend="s3",
            s3_bucket="b",
            s3_region="eu-west-1",
            s3_access_key_id="k",
            s3_secret_access_key="s",
        )
        backend = get_storage(s3)
        assert isinstance(backend, S3Storage) and backend.bucket == "b"
        assert get_storage(s3) is backend

    def test_upload_through_the_api_goes_to_s3_and_serves_a_redirect(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        s3_client = _s3_client()
        use_storage(settings, S3Storage("atelier-media", s3_client))
        w = world(admin, client, db)
        with Stubber(s3_client) as stub:
            stub.add_response(
                "put_object",
                {},
                {"Bucket": "atelier-media", "Key": ANY, "Body": ANY, "ContentType": "image/jpeg"},
            )
            response = client.post(
                f"/partners/production-runs/{w.run_id}/media",
                files=[("files", ("a.jpg", JPEG, "image/jpeg"))],
                headers=w.partner.headers,
            )
            stub.assert_no_pending_responses()
        assert response.status_code == 201, response.text
        url = response.json()["media_files"][0]["url"]
        served = client.get(url.removeprefix("http://testserver"), follow_redirects=False)
        assert served.status_code == 302
        assert served.headers["location"].startswith("http://s3.test.invalid/atelier-media/")


async def _chunks(body: bytes, size: int, seen: list[int]) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        seen.append(i)
        yield body[i : i + size]


def _multipart(payload: bytes, boundary: str = "b0und") -> bytes:
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )


class TestReceiver:
    def test_stops_reading_past_the_limit(self, tmp_path: Path) -> None:
        body = _multipart(PNG + b"\x00" * 100_000)
        seen: list[int] = []
        receiver = UploadReceiver(
            "multipart/form-data; boundary=b0und", max_bytes=4096, max_files=5, spool_dir=tmp_path
        )
        with pytest.raises(TooLarge):
            asyncio.run(receiver.receive(_chunks(body, 1024, seen)))
        # It gave up after ~4 KiB of a ~100 KiB body, and left no spool file behind.
        assert len(seen) <= 6
        assert list(tmp_path.iterdir()) == []

    def test_spools_to_disk(self, tmp_path: Path) -> None:
        receiver = UploadReceiver(
            "multipart/form-data; boundary=b0und", max_bytes=4096, max_files=5, spool_dir=tmp_path
        )
        files = asyncio.run(receiver.receive(_chunks(_multipart(PNG), 7, [])))
        assert files[0].path.read_bytes() == PNG
        assert files[0].size == len(PNG)
        receiver.cleanup()
        assert list(tmp_path.iterdir()) == []


class TestSniffing:
    @pytest.mark.parametrize(
        ("head", "mime"),
        [
            (PNG, "image/png"),
            (JPEG, "image/jpeg"),
            (PDF, "application/pdf"),
            (b"GIF89a....", "image/gif"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"\x00\x00\x00\x18ftypheic", "image/heic"),
            (EXE, None),
            (b"<svg xmlns=...>", None),
            (b"", None),
        ],
    )
    def test_magic_bytes(self, head: bytes, mime: str | None) -> None:
        assert sniff_mime(head) == mime

    @pytest.mark.parametrize(
        ("raw", "clean"),
        [
            ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
            ("../../etc/passwd", "passwd"),
            ("a\x00b\nc.png", "abc.png"),
            ("...", "upload"),
            ("x" * 300 + ".png", "x" * 190 + ".png"),
        ],
    )
    def test_filenames_are_display_only(self, raw: str, clean: str) -> None:
        assert clean_filename(raw) == clean
