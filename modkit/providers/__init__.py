"""Providers' own categories and scales, and the crosswalk onto the 13 API keys.

Every backend keeps its provider's category names and values (Azure's ``SelfHarm``
severity 0-7, Perspective's ``TOXICITY`` probability, Llama Guard's ``S11``):
:data:`PROVIDERS` holds one :class:`ProviderTaxonomy` per provider (its categories,
their :class:`Scale`, and how each API key relates to them); :func:`crosswalk`,
:func:`provider_scale` and :func:`detect_provider` read it, and
:func:`register_provider` adds one (a backend registered with a taxonomy adds its own).
"""

from .._native import (
    PROVIDERS,
    ProviderTaxonomy,
    Scale,
    crosswalk,
    detect_provider,
    provider_scale,
    register_provider,
)

__all__ = [
    "PROVIDERS",
    "ProviderTaxonomy",
    "Scale",
    "crosswalk",
    "detect_provider",
    "provider_scale",
    "register_provider",
]
