"""Test helpers: a fault-injecting OpenAI-compatible moderation server, a fake Batch API,
and local fakes of other providers' documented wire formats (Azure AI Content Safety,
Perspective, Mistral, guard models, policy-prompt models, Qwen3Guard and Nemotron Safety
Guard behind OpenAI-compatible chat completions).

>>> from modkit.testing import Fault, FaultServer, AzureContentSafetyFake
"""

from ._batch_api import BatchScript, FakeBatchAPI
from ._fake_azure import AzureContentSafetyFake
from ._fake_granite33 import GraniteGuardianThinkFake
from ._fake_guard import GuardModelFake
from ._fake_http import ProviderFake, ProviderRequest, unit_score
from ._fake_mistral import (
    MISTRAL_2603_CATEGORIES,
    MISTRAL_ALIASES,
    MISTRAL_CATEGORIES,
    MistralModerationFake,
)
from ._fake_nemotron import NemotronSafetyGuardFake
from ._fake_perspective import PerspectiveFake
from ._fake_policy import PolicyModelFake
from ._fake_qwen3guard import Qwen3GuardFake
from ._fault_server import (
    Fault,
    FaultServer,
    RecordedRequest,
    fake_multimodal_result,
    fake_result,
)

__all__ = [
    "MISTRAL_2603_CATEGORIES",
    "MISTRAL_ALIASES",
    "MISTRAL_CATEGORIES",
    "AzureContentSafetyFake",
    "BatchScript",
    "FakeBatchAPI",
    "Fault",
    "FaultServer",
    "GraniteGuardianThinkFake",
    "GuardModelFake",
    "MistralModerationFake",
    "NemotronSafetyGuardFake",
    "PerspectiveFake",
    "PolicyModelFake",
    "ProviderFake",
    "ProviderRequest",
    "Qwen3GuardFake",
    "RecordedRequest",
    "fake_multimodal_result",
    "fake_result",
    "unit_score",
]
