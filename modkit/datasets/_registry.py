"""The registry of public labelled data sets: provenance, license, checksum, purpose.

Every file is pinned to one commit of its source repository and to the sha256 of its
bytes, so a data set can never change under the project without a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .._errors import DatasetError
from .._validation import validate_params

__all__ = [
    "GITHUB_RAW",
    "MHC_LANGUAGES",
    "REGISTRY",
    "DatasetFile",
    "DatasetInfo",
    "dataset_info",
    "list_datasets",
]

#: The URL prefix every canonical URL starts with (a mirror replaces it).
GITHUB_RAW = "https://raw.githubusercontent.com/"


@dataclass(frozen=True)
class DatasetFile:
    """One file of a data set, pinned to a commit of its source repository.

    Parameters
    ----------
    part : str
        The name of this part of the data set (e.g. ``"words"``).
    filename : str
        Where the file lives relative to a data directory (e.g.
        ``"dixon-madlibber/words.csv"``), always with ``/`` separators.
    repo : str
        The GitHub repository, ``owner/name``.
    commit : str
        The 40-hex commit the file is taken from.
    path : str
        The file's path inside the repository (unencoded).
    sha256 : str
        The hex sha256 digest of the file's bytes.

    Examples
    --------
    >>> from modkit.datasets import dataset_info
    >>> entry = dataset_info("hatecheck").file("template_placeholders")
    >>> entry.url.startswith("https://raw.githubusercontent.com/paul-rottger/hatecheck-data/")
    True
    >>> entry.mirror_url("https://mirror.example/raw/")[:31]
    'https://mirror.example/raw/paul'
    """

    part: str
    filename: str
    repo: str
    commit: str
    path: str
    sha256: str

    @property
    def url(self) -> str:
        """The canonical download URL (``raw.githubusercontent.com``, path URL-encoded)."""
        return f"{GITHUB_RAW}{self.repo}/{self.commit}/{quote(self.path)}"

    def mirror_url(self, mirror: str | None) -> str:
        """The download URL with :data:`GITHUB_RAW` replaced by ``mirror`` (if given).

        Parameters
        ----------
        mirror : str or None
            A base URL laid out as ``raw.githubusercontent.com`` (``owner/name/commit/
            path`` below it); a trailing ``/`` is optional. ``None`` or ``""``: no
            mirror.

        Returns
        -------
        str
            :attr:`url` under ``mirror``, or :attr:`url` itself.
        """
        if not mirror:
            return self.url
        return mirror.rstrip("/") + "/" + self.url[len(GITHUB_RAW) :]


@dataclass(frozen=True)
class DatasetInfo:
    """A named public data set: what it is, where it comes from, what it may be used for.

    Parameters
    ----------
    name : str
        The registry name passed to :func:`modkit.datasets.load_dataset`.
    title : str
        A short human-readable title.
    description : str
        What the data set contains.
    use : str
        What modkit uses it for (and what it must not be used for).
    license : str
        SPDX identifier of the data's license.
    citation : str
        The publication to cite.
    source : str
        The URL of the source repository.
    files : tuple of DatasetFile
        The parts, the default one first.
    trainable : bool
        False for evaluation-only sets that no scorer may be trained on.

    Examples
    --------
    >>> from modkit.datasets import dataset_info
    >>> info = dataset_info("hatecheck")
    >>> info.parts, info.trainable
    (('test_suite_cases', 'template_placeholders'), False)
    """

    name: str
    title: str
    description: str
    use: str
    license: str
    citation: str
    source: str
    files: tuple[DatasetFile, ...]
    trainable: bool = True

    @property
    def parts(self) -> tuple[str, ...]:
        """The part names, the default one first."""
        return tuple(f.part for f in self.files)

    @property
    def default_part(self) -> str:
        """The part :func:`~modkit.datasets.load_dataset` returns when none is named."""
        return self.files[0].part

    @property
    def attribution(self) -> str:
        """A one-line credit for reports, notebooks and READMEs that show these data."""
        return f"{self.title}: {self.citation} Data: {self.source} ({self.license})."

    def file(self, part: str | None = None) -> DatasetFile:
        """The :class:`DatasetFile` of ``part`` (default: :attr:`default_part`).

        Parameters
        ----------
        part : str, optional
            One of :attr:`parts`.

        Returns
        -------
        DatasetFile

        Raises
        ------
        DatasetError
            ``part`` is not one of :attr:`parts`; the message lists the valid ones.
        """
        if part is None:
            return self.files[0]
        for f in self.files:
            if f.part == part:
                return f
        raise DatasetError(
            f"data set {self.name!r} has no part {part!r}; valid parts: {', '.join(self.parts)}"
        )


_OPENAI_REPO = "openai/moderation-api-release"
_OPENAI_COMMIT = "f4ab51b5edd3bfbcb349a56324274235b674e0e4"
_HATECHECK_REPO = "paul-rottger/hatecheck-data"
_HATECHECK_COMMIT = "d84302298ceeb34f4b0dde2d8a1f4932c2caa612"
_SST_REPO = "bertiev/SimpleSafetyTests"
_SST_COMMIT = "d7aee9a9422a5a5488f478fd79c2479c891c0f3b"
_DIXON_REPO = "conversationai/unintended-ml-bias-analysis"
_DIXON_COMMIT = "9c7d91aaa53406a362354661a93e07956d95e59a"
_DIXON_DIR = "archive/unintended_ml_bias/new_madlibber/input_data/en/en-us/"
_MHC_REPO = "rewire-online/multilingual-hatecheck"
_MHC_COMMIT = "a03f2caf2023a402d85064bda243e46d280408f0"
#: Multilingual HateCheck: language -> sha256 of ``hatecheck_cases_final_<language>.csv``.
MHC_LANGUAGES = {
    "arabic": "134d39c3b691801e24ab53fb14d3214fea69eb2b3c5288b3f00e31ca0ece1bee",
    "dutch": "df67042194bf33837e77126aa994e01201d84edec8f0b46acec8fed0322d595d",
    "french": "17cc2c7ec01ad28c31c1c53bbda8c7245b83e86d34017327964956ace1446586",
    "german": "ecdef4611b877120d0a8feec9c0cd0dfc1efec7ead4bbd62eaf32f6cc80d2ee0",
    "hindi": "ffebc31db02d59f603ac9728aa9b63d7db46de2cdc4c54468aabab82e5d8bd40",
    "italian": "5339cd1e0d6e338c7ae9b831e74d653d6216a25120214d92b5d98d25a1c20674",
    "mandarin": "d094336d73fb3b2817a04cac226687fcf91cb914deccd4d4096a85cf4a147414",
    "polish": "88b8f9cfe4484f2e7543a7b28983b10f5942f04cc87c904c653a01318b7d1c04",
    "portuguese": "839bcd08e59efb9a659ab3c7e82022844a57ae5babe705323a7956d2d9461ea8",
    "spanish": "20d2388f4f3bafe744010a42f1ce7ddd5b2b09efa978fb0d8a0fc810487948aa",
}

_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="openai-moderation-1680",
        title="OpenAI moderation evaluation set",
        description=(
            "1,680 texts with binary labels in 8 of OpenAI's moderation categories "
            "(codes S, H, V, HR, SH, S3, H2, V2); each code is labelled on 761 to 1,450 "
            "rows, a missing label means 'not labelled'."
        ),
        use=(
            "The only public set labelled in OpenAI's own categories: training the local "
            "scorer, threshold-fitting demos and tests."
        ),
        license="MIT",
        citation=(
            "Markov, Zhang, Agarwal, Eloundou, Lee, Adler, Jiang and Weng (2023), "
            "'A Holistic Approach to Undesired Content Detection in the Real World', AAAI 2023."
        ),
        source=f"https://github.com/{_OPENAI_REPO}",
        files=(
            DatasetFile(
                part="samples",
                filename="openai-moderation-1680.jsonl.gz",
                repo=_OPENAI_REPO,
                commit=_OPENAI_COMMIT,
                path="data/samples-1680.jsonl.gz",
                sha256="ef3f7de86ee394fe337b0a566ba4b9c7db058f3caa8d6a4a0006138b663ab9a8",
            ),
        ),
    ),
    DatasetInfo(
        name="hatecheck",
        title="HateCheck",
        description=(
            "3,728 functional test cases for hate speech detection (29 functionalities, "
            "7 target groups) generated from templates, with gold labels hateful / "
            "non-hateful; plus the template placeholders and their fillings."
        ),
        use=(
            "Evaluation and templates only (bias cross-tabs, subgroup AUC, BPSN/BNSP). "
            "Never train on it: it is the out-of-domain check of any scorer."
        ),
        license="CC-BY-4.0",
        citation=(
            "Röttger, Vidgen, Nguyen, Waseem, Margetts and Pierrehumbert (2021), "
            "'HateCheck: Functional Tests for Hate Speech Detection Models', ACL-IJCNLP 2021."
        ),
        source=f"https://github.com/{_HATECHECK_REPO}",
        trainable=False,
        files=(
            DatasetFile(
                part="test_suite_cases",
                filename="hatecheck-test-suite-cases.csv",
                repo=_HATECHECK_REPO,
                commit=_HATECHECK_COMMIT,
                path="test_suite_cases.csv",
                sha256="ecf0dc1e93fccc90b6f880e632b19e635c0f0a68b3157915a9e20b6938f121cf",
            ),
            DatasetFile(
                part="template_placeholders",
                filename="hatecheck-template-placeholders.csv",
                repo=_HATECHECK_REPO,
                commit=_HATECHECK_COMMIT,
                path="template_placeholders.csv",
                sha256="0ead74c40bcf633ab948b064937cbd4f2bdb0b3e0c8b0565843069b068dcadc7",
            ),
        ),
    ),
    DatasetInfo(
        name="multilingual-hatecheck",
        title="Multilingual HateCheck",
        description=(
            "HateCheck's functional tests in 10 languages (Arabic, Dutch, French, German, "
            "Hindi, Italian, Mandarin, Polish, Portuguese, Spanish), about 3,400 to 3,800 "
            "cases each (36,582 in all), with gold labels hateful / non-hateful; one part "
            "per language."
        ),
        use=(
            "Per-language evaluation of any scorer and per-language bias views. Never "
            "train on it: like HateCheck it is an out-of-domain check."
        ),
        license="CC-BY-4.0",
        citation=(
            "Röttger, Seelawi, Nozza, Talat and Vidgen (2022), 'Multilingual HateCheck: "
            "Functional Tests for Multilingual Hate Speech Detection Models', WOAH 2022."
        ),
        source=f"https://github.com/{_MHC_REPO}",
        trainable=False,
        files=tuple(
            DatasetFile(
                part=language,
                filename=f"multilingual-hatecheck/hatecheck_cases_final_{language}.csv",
                repo=_MHC_REPO,
                commit=_MHC_COMMIT,
                path=f"MHC Final Cases/hatecheck_cases_final_{language}.csv",
                sha256=sha,
            )
            for language, sha in MHC_LANGUAGES.items()
        ),
    ),
    DatasetInfo(
        name="simplesafetytests",
        title="SimpleSafetyTests",
        description=(
            "100 clearly unsafe prompts, 20 in each of 5 harm areas, split into "
            "information-and-advice seeking vs instructions-and-actions. All positive."
        ),
        use=(
            "Training signal for categories the OpenAI set lacks (the only reachable "
            "source of 'illicit' positives), through a written-down category mapping."
        ),
        license="CC-BY-4.0",
        citation=(
            "Vidgen, Scherrer, Kirk, Qian, Kannappan, Hale and Röttger (2023), "
            "'SimpleSafetyTests: a Test Suite for Identifying Critical Safety Risks in "
            "Large Language Models', arXiv:2311.08370."
        ),
        source=f"https://github.com/{_SST_REPO}",
        files=(
            DatasetFile(
                part="test_cases",
                filename="simplesafetytests.csv",
                repo=_SST_REPO,
                commit=_SST_COMMIT,
                path="SimpleSafetyTests - test cases.csv",
                sha256="6d95a1301e0d0f3a3c4cf5392f4afff11ad6e3066f95d23aaa138d44aedf986c",
            ),
        ),
    ),
    DatasetInfo(
        name="dixon-madlibber",
        title="Unintended bias madlibber templates",
        description=(
            "The template grammar of the unintended-bias madlibber: sentence templates "
            "with toxic / nontoxic versions, and a word list of identity terms, verbs and "
            "adjectives with their connotations; placeholders look like "
            "'{type|identity_connotation|neutral}'."
        ),
        use="A second template suite for identity-term bias (false positive rate per term).",
        license="Apache-2.0",
        citation=(
            "Dixon, Li, Sorensen, Thain and Vasserman (2018), 'Measuring and Mitigating "
            "Unintended Bias in Text Classification', AIES 2018."
        ),
        source=f"https://github.com/{_DIXON_REPO}",
        files=(
            DatasetFile(
                part="sentence_templates",
                filename="dixon-madlibber/sentence_templates.csv",
                repo=_DIXON_REPO,
                commit=_DIXON_COMMIT,
                path=_DIXON_DIR + "sentence_templates.csv",
                sha256="dc6d9795dbfdc1c7d9a1cb9ea6cdca5781f3148a179aff51108cdae7542a43ec",
            ),
            DatasetFile(
                part="intersectional_sentence_templates",
                filename="dixon-madlibber/intersectional_sentence_templates.csv",
                repo=_DIXON_REPO,
                commit=_DIXON_COMMIT,
                path=_DIXON_DIR + "intersectional_sentence_templates.csv",
                sha256="279cf7acb5a7817cc2024c2e2adee5e7658268e4a4a1e6024e8956d3b2619d29",
            ),
            DatasetFile(
                part="words",
                filename="dixon-madlibber/words.csv",
                repo=_DIXON_REPO,
                commit=_DIXON_COMMIT,
                path=_DIXON_DIR + "words.csv",
                sha256="1cca05c17d7ed990125cbdccca6ca15d469dffd1daa363cecd87de6b26305e47",
            ),
        ),
    ),
)

#: Every registered data set by name.
REGISTRY: dict[str, DatasetInfo] = {d.name: d for d in _DATASETS}


def list_datasets() -> list[DatasetInfo]:
    """Every registered data set, in registry order.

    Returns
    -------
    list of DatasetInfo

    Examples
    --------
    >>> from modkit.datasets import list_datasets
    >>> {"openai-moderation-1680", "hatecheck"} <= {info.name for info in list_datasets()}
    True
    """
    return list(_DATASETS)


@validate_params({"name": [str]})
def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of the data set ``name``.

    Parameters
    ----------
    name : str
        A registry name, e.g. ``"hatecheck"``.

    Returns
    -------
    DatasetInfo

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        ``name`` is not registered; the message lists the valid names.

    Examples
    --------
    >>> from modkit.datasets import dataset_info
    >>> info = dataset_info("hatecheck")
    >>> info.license, [f.part for f in info.files]
    ('CC-BY-4.0', ['test_suite_cases', 'template_placeholders'])
    >>> dataset_info("hatechek")
    Traceback (most recent call last):
    ...
    modkit._errors.DatasetError: ...
    """
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise DatasetError(
            f"unknown data set {name!r}; valid names: {', '.join(REGISTRY)}"
        ) from None
