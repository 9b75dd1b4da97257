"""End to end over the issue 13 sample disks (fixtures/samples/): each gives the articles it was built for, as
the best article or in the tied set, from its own disk evidence; the screen text picks one from a tie; the
healthy, serviced disk gives none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MANIFEST, unpack_to
from vhdfix.diagnosis import load_catalog
from vhdfix.inspection import Inspection, inspect

SAMPLES = MANIFEST["samples"]["scenarios"]
SAMPLE_FILES = {entry["scenario"]: entry["path"] for entry in MANIFEST["samples"]["files"]}
CATALOG = {article.id: article for article in load_catalog()}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    return {name: unpack_to(FIXTURES / path, folder) for name, path in SAMPLE_FILES.items()}


def best_set(result: Inspection) -> list[str]:
    """The tied set, or the best article alone."""
    report = result.to_json()
    return [entry["article"] for entry in report["tied"]] or ([report["article"]] if report["article"] else [])


@pytest.mark.parametrize("name", sorted(name for name, sample in SAMPLES.items() if not sample["needs_screen_text"]))
def test_each_sample_gives_its_articles_from_the_disk_alone(name: str, unpacked: dict[str, Path]) -> None:
    meant_for = SAMPLES[name]["meant_for"]
    result = inspect(unpacked[name])
    assert result.error is None, result.error
    found = best_set(result)
    if len(meant_for) <= 1:
        assert found == meant_for
    else:
        assert set(meant_for) <= set(found), found
        assert len({entry["confidence"] for entry in result.to_json()["tied"]}) == 1  # tied: one level
    assert all(match["disk_evidence"] for match in result.to_json()["matches"])
    assert result.exit_code == (1 if meant_for else 0)


@pytest.mark.parametrize(("name", "article"), sorted(
    (name, article) for name, sample in SAMPLES.items() if len(sample["meant_for"]) > 1 or sample["needs_screen_text"]
    for article in sample["meant_for"]))
def test_the_screen_text_picks_each_article_of_a_sample(name: str, article: str, unpacked: dict[str, Path]) -> None:
    report = inspect(unpacked[name], screen_text=CATALOG[article].screen_text).to_json()
    assert report["article"] == article
    assert report["tied"] in ([], [{**report["tied"][0], "article": article}])
    if name == "domain-controller":  # its rule needs the screen text and the NTDS database on the disk
        assert report["matches"][0]["disk_evidence"] is True


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_an_unknown_screen_text_changes_nothing(name: str, unpacked: dict[str, Path]) -> None:
    plain = inspect(unpacked[name]).to_json()
    unknown = inspect(unpacked[name], screen_text="Blue sky with a few clouds").to_json()
    assert (unknown["article"], unknown["tied"], unknown["matches"]) == (plain["article"], plain["tied"],
                                                                         plain["matches"])
