"""Incident investigation: cases, topology, detectors, ranking, evaluation."""
