"""Synthetic partner data: a landing tree of CALPADS, college and CCGI files plus a truth file.

Depends on ``core`` only. Entry points: :func:`generate` and :func:`generate_small`.
"""

from synth.generator import DEFAULT_YEARS, GenerationSummary, generate, generate_small
from synth.noise import NoiseRates

__all__ = ["DEFAULT_YEARS", "GenerationSummary", "NoiseRates", "generate", "generate_small"]
