"""Test helpers: a fault-injecting OpenAI-compatible moderation server.

>>> from modkit.testing import Fault, FaultServer
"""

from ._batch_api import BatchScript, FakeBatchAPI
from ._fault_server import Fault, FaultServer, RecordedRequest, fake_result

__all__ = ["BatchScript", "FakeBatchAPI", "Fault", "FaultServer", "RecordedRequest", "fake_result"]
