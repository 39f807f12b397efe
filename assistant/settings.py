"""Where things live and the tuned knobs, in one place: `Settings.from_env()` is how the package is configured.

The environment is read here (through `assistant.env_settings`, which declares every variable), grouped as
`reader` (which reader answers and where its model is), `store` (where the index lives) and `runtime` (cache
root, threads, the embedder's backend and precision, the index and articles directories); the values reach
constructors as arguments. The tuned knobs stay flat fields, so `dataclasses.replace(settings, reader_timeout=4)`
keeps working. `Settings()` reads the environment for whatever it is not given, like `from_env()`.

The numbers below were chosen on the dev half of eval/questions.jsonl; see
eval/report.md for the measurements behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant import env_settings as environment
from assistant.index.store import StoreSpec, parse_store
from assistant.index.vectors import sentence_method
from assistant.ingest.chunking import ChunkSettings
from assistant.models.readers import ReaderConfig, ReaderKind
from assistant.models.weights import DEFAULT_MODEL

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

__all__ = ["Method", "ReaderKind", "ReaderSettings", "RuntimeSettings", "Settings", "StoreSpec",
           "default_articles_dir", "default_index_dir"]


class Method(environment.Choice):
    """How passages are retrieved: dense (e5), bm25, hybrid (fused), or routed (by the question's script)."""

    DENSE = "dense"
    BM25 = "bm25"
    HYBRID = "hybrid"
    ROUTED = "routed"


def _default_dir(name: str, env: str) -> Path:
    if environment.value(env):
        return Path(environment.value(env))
    if (REPO_DIR / "articles").is_dir():  # running from a checkout
        return REPO_DIR / name
    return Path.cwd() / name


def default_index_dir() -> Path:
    return _default_dir("index", "NEWSQA_INDEX")


def default_articles_dir() -> Path:
    return _default_dir("articles", "NEWSQA_ARTICLES")


def _chunk_from_env() -> ChunkSettings:
    """Chunking from NEWSQA_CHUNK_SIZE / NEWSQA_CHUNK_OVERLAP, so build and search always agree."""
    default = ChunkSettings()
    size = int(environment.value("NEWSQA_CHUNK_SIZE") or default.size)
    overlap = int(environment.value("NEWSQA_CHUNK_OVERLAP") or min(default.overlap, size // 2))
    if size < 50 or not 0 <= overlap < size:
        raise ValueError(f"NEWSQA_CHUNK_SIZE={size}, NEWSQA_CHUNK_OVERLAP={overlap}: "
                         "need a size of at least 50 and 0 <= overlap < size")
    return ChunkSettings(size=size, overlap=overlap)


@dataclass(frozen=True)
class ReaderSettings:
    """Which reader answers (None: NEWSQA_READER's choice, else an endpoint if one is set, else the local model)
    and where an endpoint's model is."""

    kind: ReaderKind | None = None
    endpoint: ReaderConfig = field(default_factory=ReaderConfig)

    @classmethod
    def from_env(cls) -> ReaderSettings:
        kind = environment.value("NEWSQA_READER")
        return cls(ReaderKind.parse(kind) if kind else None, ReaderConfig.from_env())


@dataclass(frozen=True)
class RuntimeSettings:
    """The machine's side: where caches and the data live, how many threads, the embedder's runtime."""

    cache_root: Path = field(default_factory=environment.cache_root)
    threads: int = field(default_factory=environment.threads)
    backend: str | None = None  # onnx | torch; None: the model's default (embedding.backend_for)
    precision: str | None = None  # auto | fp32 | bf16; None: auto
    index_dir: Path = field(default_factory=default_index_dir)
    articles_dir: Path = field(default_factory=default_articles_dir)

    @classmethod
    def from_env(cls) -> RuntimeSettings:
        return cls(backend=environment.value("NEWSQA_BACKEND") or None,
                   precision=environment.value("NEWSQA_PRECISION") or None)

    @property
    def embedder_options(self) -> dict:
        """The arguments an `Embedder(model, ...)` takes from these settings."""
        return {"backend": self.backend, "precision": self.precision, "threads": self.threads}


@dataclass(frozen=True)
class Settings:
    """Everything a build or a search depends on besides the data itself."""

    model: str = field(default_factory=lambda: environment.value("NEWSQA_MODEL", DEFAULT_MODEL))
    chunk: ChunkSettings = field(default_factory=_chunk_from_env)
    # Where the index lives: "faiss" (files under the index dir), "milvus:./x.db" or a Milvus URI (store.py).
    # Given as text or a StoreSpec; always a StoreSpec once made (str(settings.store) is the text).
    store: StoreSpec = field(default_factory=parse_store)
    # Sentence vectors pooled from the passage's forward pass, or embedded one by one (vectors.py).
    sentence_vectors: str = field(default_factory=lambda: sentence_method())
    reader: ReaderSettings = field(default_factory=ReaderSettings.from_env)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings.from_env)
    # Reciprocal rank fusion: score = sum(weight / (rrf_k + rank)).
    rrf_k: int = 10
    dense_weight: float = 1.0
    lexical_weight: float = 0.25
    korean_method: str = "hybrid"  # what `routed` uses for questions with Hangul
    english_method: str = "dense"  # ... and for the rest (BM25 cannot match English words to Korean text)
    candidates: int = 50  # how deep each leg looks before fusing
    # Dense score of a passage: (1 - w) * its cosine + w * its best sentence's cosine.
    sentence_weight: float = 0.5
    # Answering: how many top passages the answer's sentences may come from, and the
    # calibrated minimum margin of the best sentence over off-topic background text.
    answer_depth: int = 3
    max_quotes: int = 3  # sentences in an answer: the best, plus any within quote_margin of it
    quote_margin: float = 0.02
    abstain_below_ko: float = 0.040
    abstain_below_en: float = 0.006
    max_question_chars: int = 4000
    # The reader (issue 14): the evidence it chooses from (about 200 tokens: prefill is the cost), the spans
    # it may choose, and its time budget. Whether to answer is decide.py's, fitted on dev (data/decide.json).
    # Top passages whose sentences the reader sees (each keeps its best sentence, ~70 tokens of prefill at
    # ~70 tokens/s here): 3 is the measured, shipped setting; NEWSQA_READER_DEPTH=1 is the fast one (bench in
    # README: short answer p50 1.6 s instead of 3.7 s, not evaluated for accuracy).
    reader_depth: int = field(default_factory=lambda: int(environment.value("NEWSQA_READER_DEPTH") or 3))
    reader_sentences: int = 2  # evidence sentences in all, beyond each passage's best one
    reader_candidates: int = 128  # spans the model may choose among (plus NONE): options cost no prompt tokens
    reader_short_chars: int = 60  # a chosen clause longer than this is highlighted, not repeated as the short answer
    reader_max_tokens: int = 90  # one translated sentence fits; a rambling one is cut
    reader_short_tokens: int = 16  # a translated short answer: a few words
    reader_margin_slack: float = 0.0  # how far below the extractive margin the reader may still try
    reader_timeout: float = field(default_factory=lambda: float(environment.value("NEWSQA_READER_TIMEOUT", "30")))
    # A question naming a period ("2025년 1월") lifts that period's articles by this share of the
    # candidates' score spread: a soft preference, never a filter (eval before/after in eval/report.md).
    period_boost: float = field(default_factory=lambda: float(environment.value("NEWSQA_PERIOD_BOOST") or 0.1))
    # Feeds and pages (index/sync.py): seconds between two requests to the same host, a response's time limit.
    fetch_delay: float = field(default_factory=lambda: float(environment.value("NEWSQA_FETCH_DELAY") or 1.0))
    fetch_timeout: float = field(default_factory=lambda: float(environment.value("NEWSQA_FETCH_TIMEOUT") or 15.0))

    def __post_init__(self) -> None:
        if not isinstance(self.store, StoreSpec):
            object.__setattr__(self, "store", parse_store(str(self.store)))
        Method.parse(self.korean_method), Method.parse(self.english_method)

    @classmethod
    def from_env(cls, **given: object) -> Settings:
        """The settings the environment names (NEWSQA_*, listed in environment.VARIABLES); `given` overrides."""
        return cls(**given)

    @property
    def index_dir(self) -> Path:
        return self.runtime.index_dir
