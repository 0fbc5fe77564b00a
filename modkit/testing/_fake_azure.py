"""A fake Azure AI Content Safety resource: ``POST /contentsafety/text:analyze``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._fake_http import ProviderFake, Reply, fake_score
from ._fault_server import Fault

#: The harm kinds each category reacts to.
_KINDS = {
    "Hate": {"hate", "insult"},
    "SelfHarm": {"selfharm"},
    "Sexual": {"sexual"},
    "Violence": {"violence"},
}

__all__ = ["AzureContentSafetyFake"]

_CATEGORIES = ("Hate", "SelfHarm", "Sexual", "Violence")
_VERSIONS = ("2023-10-01", "2024-09-01")
_OUTPUT_TYPES = ("FourSeverityLevels", "EightSeverityLevels")


class AzureContentSafetyFake(ProviderFake):
    """Speaks Azure AI Content Safety's text analysis wire format (API 2023-10-01).

    Request: ``POST {endpoint}/contentsafety/text:analyze?api-version=2023-10-01`` with
    header ``Ocp-Apim-Subscription-Key`` and body ``{"text", "categories",
    "blocklistNames", "haltOnBlocklistHit", "outputType"}``. Response:
    ``{"blocklistsMatch": [{"blocklistName", "blocklistItemId", "blocklistItemText"}],
    "categoriesAnalysis": [{"category", "severity"}]}``. Errors:
    ``{"error": {"code", "message"}}`` (401 for a wrong key, 400 ``InvalidRequestBody``
    for an empty or over-long text or a bad option, 404 for an unknown blocklist, 429
    ``TooManyRequests`` with ``Retry-After`` when pushed).

    Severities are deterministic: the eight-level severity of a category is
    ``floor(8 * s)`` (at most 7), ``s`` = :func:`~modkit.testing.fake_score` of the text
    and category; four-level
    output rounds it down to 0, 2, 4, 6 (:meth:`severity`). A pushed
    :meth:`Fault.drift <modkit.testing.Fault.drift>` answers ``"severity": null`` for its
    ``nulls``, leaves its ``missing`` out of ``categoriesAnalysis`` and adds its ``extra``
    categories (the value as severity).

    Parameters
    ----------
    api_key : str, optional
        The key requests must carry in ``Ocp-Apim-Subscription-Key`` (none: any).
    blocklists : mapping of str to sequence of str, optional
        Blocklist name -> item texts (matched case-insensitively as substrings).
    latency, bias
        As for :class:`ProviderFake` (seconds per answer; word -> extra harm).

    Examples
    --------
    >>> from modkit.testing import AzureContentSafetyFake
    >>> fake = AzureContentSafetyFake()
    >>> eight = fake.severity("hello", "Hate")
    >>> eight in range(8), fake.severity("hello", "Hate", "FourSeverityLevels") == eight // 2 * 2
    (True, True)
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        blocklists: Mapping[str, Sequence[str]] | None = None,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.blocklists = {k: list(v) for k, v in (blocklists or {}).items()}

    def severity(self, text: str, category: str, output_type: str = "EightSeverityLevels") -> int:
        """The severity this fake gives ``text`` in ``category``.

        Parameters
        ----------
        text : str
            The analyzed text.
        category : str
            ``Hate``, ``SelfHarm``, ``Sexual`` or ``Violence``.
        output_type : {"EightSeverityLevels", "FourSeverityLevels"}
            The scale: 0-7, or 0, 2, 4, 6 (the eight-level value rounded down).

        Returns
        -------
        int
        """
        eight = min(7, int(8 * fake_score(text, category, self.bias, _KINDS.get(category))))
        return eight if output_type == "EightSeverityLevels" else (eight // 2) * 2

    def is_scored_path(self, path: str) -> bool:
        return path.endswith("text:analyze")

    def drift(self, reply: Reply, fault: Fault) -> Reply:
        # nulls with "severity": null, missing left out of categoriesAnalysis, extra
        # categories added with their value as severity
        analysis = [
            item
            for item in reply.body["categoriesAnalysis"]
            if item["category"] not in fault.missing
        ]
        for item in analysis:
            if item["category"] in fault.nulls:
                item["severity"] = None
        analysis += [{"category": c, "severity": v} for c, v in fault.extra]
        reply.body["categoriesAnalysis"] = analysis
        return reply

    def error_reply(self, status: int, message: str, code: str | None = None) -> Reply:
        default = {401: "401", 404: "NotFound", 429: "TooManyRequests"}.get(status, "InternalError")
        if status == 400:
            default = "InvalidRequestBody"
        return Reply(
            status, {"error": {"code": code or default, "message": message, "details": []}}
        )

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        if path != "/contentsafety/text:analyze" or method != "POST":
            return self.error_reply(404, "Resource not found", "NotFound")
        if not self.key_ok(headers.get("ocp-apim-subscription-key")):
            return self.error_reply(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make "
                "sure to provide a valid key for an active subscription and use a correct "
                "regional API endpoint for your resource.",
            )
        if query.get("api-version") not in _VERSIONS:
            return self.error_reply(404, "Resource not found: unsupported api-version", "NotFound")
        if not isinstance(body, dict):
            return self.error_reply(400, "The request body is not valid JSON.")
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return self.error_reply(400, "Text must not be empty.")
        if len(text) > 10_000:
            return self.error_reply(400, "Text exceeds the 10000 character limit.")
        output_type = body.get("outputType") or "FourSeverityLevels"
        if output_type not in _OUTPUT_TYPES:
            return self.error_reply(400, f"Invalid outputType {output_type!r}.")
        cats = body.get("categories") or list(_CATEGORIES)
        bad = [c for c in cats if c not in _CATEGORIES]
        if bad:
            return self.error_reply(400, f"Invalid categories: {bad}.")
        matches = []
        for name in body.get("blocklistNames") or []:
            if name not in self.blocklists:
                return self.error_reply(404, f"Blocklist {name} is not found.", "NotFound")
            for i, item in enumerate(self.blocklists[name]):
                if item.lower() in text.lower():
                    matches.append(
                        {
                            "blocklistName": name,
                            "blocklistItemId": f"{name}-{i}",
                            "blocklistItemText": item,
                        }
                    )
        analysis = [{"category": c, "severity": self.severity(text, c, output_type)} for c in cats]
        if matches and body.get("haltOnBlocklistHit"):
            analysis = []
        return Reply(200, {"blocklistsMatch": matches, "categoriesAnalysis": analysis})
