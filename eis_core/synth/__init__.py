"""Synthetic department generator: a deterministic drop that follows the department contract.

``generate(scale, seed, out_dir)`` writes one file per contract table plus ``_drop.json``;
``eis synth`` is its command line.  The legacy threshold rules live in ``LEGACY_EIS_RULES``.
"""

from eis_core.synth.generator import (
    ADVERSE_OFFICER_SHARE,
    GENERATOR_VERSION,
    LEGACY_EIS_RULES,
    RATES,
    SCALES,
    Scale,
    ThresholdRule,
    generate,
    legacy_flags,
    officer_ids,
)

__all__ = [
    "ADVERSE_OFFICER_SHARE",
    "GENERATOR_VERSION",
    "LEGACY_EIS_RULES",
    "RATES",
    "SCALES",
    "Scale",
    "ThresholdRule",
    "generate",
    "legacy_flags",
    "officer_ids",
]
