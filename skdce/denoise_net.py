"""Learned denoising of the curve output: the bundled Neighbor2Neighbor network.

The public face of the learned-denoiser stage
(:mod:`skdce.engine.stages.learned`, where the notes on the network, its
training and its tiling are): a drop-in block function beside the guided
filter of :mod:`skdce.denoise`, with the same inputs (the plain curve output
and the noise the curves added) and the same result.
``skdce.enhance(..., denoiser="learned")`` uses it.
"""

from .engine.stages.learned import DENOISER, LEARNED_HALO, denoiser_record, learned_denoise_block

__all__ = ["learned_denoise_block", "denoiser_record", "LEARNED_HALO", "DENOISER"]
