"""Validated, transactional loads of a department drop into schema ``raw``."""
