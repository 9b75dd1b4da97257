"""Diagnosis: which article applies, decided by rules kept as data in ``articles/``."""

from vhdfix.diagnosis.catalog import Article, RemedyStep, load_catalog
from vhdfix.diagnosis.decide import Diagnosis, Match, diagnose

__all__ = ["Article", "Diagnosis", "Match", "RemedyStep", "diagnose", "load_catalog"]
