"""Diagnosis: which article applies, decided by rules kept as data in ``articles/``."""

from vhdfix.diagnosis.catalog import Article, RemedyStep, load_catalog
from vhdfix.diagnosis.decide import Diagnosis, Match, diagnose
from vhdfix.diagnosis.screen import ScreenReading

__all__ = ["Article", "Diagnosis", "Match", "RemedyStep", "ScreenReading", "diagnose", "load_catalog"]
