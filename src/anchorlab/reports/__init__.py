"""Figures and tables computed from stored runs."""
