"""The azure-storage-blob behaviour that vhdfix/remote/blob_image.py works around (KNOWN_ISSUES.md)."""

from __future__ import annotations

from typing import Any

from tests.support.azurite import KEY, Azurite


def test_a_ranged_download_of_a_page_blob_also_lists_its_page_ranges(azurite: Azurite) -> None:
    from azure.storage.blob import BlobClient

    azurite.upload_page_blob("sdk-defect.vhd", bytes(512) + b"\x01" * 512 + bytes(4096))
    requests: list[str] = []

    def record(response: Any) -> None:
        requests.append(response.http_request.url.split("?")[1] if "?" in response.http_request.url else "")

    client = BlobClient.from_blob_url(azurite.url("sdk-defect.vhd"), credential={"account_name": "devstoreaccount1",
                                                                                  "account_key": KEY},
                                      raw_response_hook=record)
    assert client.download_blob(offset=512, length=512).readall() == b"\x01" * 512
    assert len(requests) == 2 and "comp=pagelist" in requests[1], requests  # the read, then the whole page list
