"""What each sample disk the copy and repair tests share is diagnosed as."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.samples import PA, sample
from vhdfix.inspection import inspect

EXPECTED = {
    f"{PA}.vhd": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-gpt-vhd-fixed": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-gpt-vhdx-dynamic": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-dirty-hive-mbr-vhd-dynamic": "OSStartUp-PROVISIONING_AGENT",
    "could-not-finish-configuring-mbr-vhd-dynamic": "OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM",
    "healthy-mbr-vhd-dynamic": None,
}


@pytest.mark.parametrize(("name", "article"), EXPECTED.items())
def test_sample_diagnosis(name: str, article: str | None, samples: Path) -> None:
    result = inspect(sample(name, samples))
    assert result.error is None
    assert (result.article.id if result.article else None) == article
