"""Evidence: typed facts about the Windows installation, each with its source."""

from vhdfix.evidence.collect import collect_evidence
from vhdfix.evidence.model import EvidenceSet, FileEvidence, LogEvidence, RegistryEvidence

__all__ = ["EvidenceSet", "FileEvidence", "LogEvidence", "RegistryEvidence", "collect_evidence"]
