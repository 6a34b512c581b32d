"""Thumbnails of stored images: made once at a fixed size, the original for anything else."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from atelier.media.storage import LocalStorage
from atelier.media.thumbnails import thumbnail_path
from atelier.platform.settings import Settings
from tests.media.support import PDF

KEY = "2026/11/media_01JTEST0000000000000000000.jpg"


def photo(width: int = 1600, height: int = 1200) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 40)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def stored(settings: Settings, key: str, data: bytes) -> LocalStorage:
    storage = LocalStorage(Path(settings.storage_dir))
    source = Path(settings.storage_dir).parent / "incoming.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    storage.put(key, source, content_type="image/jpeg")
    return storage


class TestThumbnailEndpoint:
    def test_a_photo_is_served_small(self, client: TestClient, settings: Settings) -> None:
        original = photo()
        stored(settings, KEY, original)
        response = client.get(f"/media/thumbs/192/{KEY}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert "immutable" in response.headers["cache-control"]
        with Image.open(io.BytesIO(response.content)) as image:
            assert max(image.size) == 192
            assert image.size == (192, 144)
        assert len(response.content) < len(original) / 10

    def test_made_once_then_read_from_disk(self, client: TestClient, settings: Settings) -> None:
        storage = stored(settings, KEY, photo())
        first = thumbnail_path(storage, KEY, 96)
        assert first is not None
        made_at = first.stat().st_mtime_ns
        again = thumbnail_path(storage, KEY, 96)
        assert again == first and again.stat().st_mtime_ns == made_at

    def test_concurrent_first_requests_all_get_the_thumbnail(
        self, client: TestClient, settings: Settings
    ) -> None:
        stored(settings, KEY, photo())
        results: list[int] = []

        def fetch() -> None:
            results.append(client.get(f"/media/thumbs/384/{KEY}").status_code)

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 8
        leftovers = list((Path(settings.storage_dir) / ".thumbs").rglob("*.part"))
        assert leftovers == []

    def test_not_an_image_redirects_to_the_original(
        self, client: TestClient, settings: Settings
    ) -> None:
        key = "2026/11/media_01JTEST0000000000000000001.pdf"
        stored(settings, key, PDF)
        response = client.get(f"/media/thumbs/192/{key}", follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == f"/media/files/{key}"

    @pytest.mark.parametrize("size", ["100", "5000", "abc"])
    def test_only_fixed_sizes(self, client: TestClient, settings: Settings, size: str) -> None:
        stored(settings, KEY, photo())
        assert client.get(f"/media/thumbs/{size}/{KEY}").status_code in (404, 422)

    @pytest.mark.parametrize(
        "key", ["../etc/passwd", "2026/11/nope.jpg", "2026/11/media_01JTEST0000000000000000009.jpg"]
    )
    def test_unknown_or_unsafe_keys_are_404(self, client: TestClient, key: str) -> None:
        assert client.get(f"/media/thumbs/96/{key}").status_code in (404, 422)
