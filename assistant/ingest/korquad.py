"""KorQuAD 1.0 (half of its dev set, eval/korquad/) as a corpus of articles and questions with gold offsets.

Each Wikipedia article becomes one plain-text article `kq{pos:03d}.txt`: its title line, a blank line, then its
paragraphs separated by blank lines. The split is by article, never by question: even positions are dev, odd
ones test (eval/korquad/README.md). A question's gold span is mapped into the article text *as the index
stores it*, i.e. after `corpus.parse_article` has cleaned it (which drops control characters such as a
left-to-right mark and folds spaces), so `article.text[start:end]` is the gold answer there.

The records are read as published (CC BY-ND: unmodified); the article files are derived, written to a cache.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.ingest.corpus import Article, normalize, parse_article

KORQUAD_FILE = Path(__file__).resolve().parents[2] / "eval" / "korquad" / "KorQuAD_v1.0_dev_even.json"
SPLITS = ("dev", "test")
OUTLET = "Korean Wikipedia (KorQuAD 1.0, LG CNS, CC BY-ND 2.0 KR)"
LEFT_OUT_PER_SPLIT = 10


@dataclass(frozen=True)
class KqArticle:
    doc_id: str  # kq000 .. kq069: its position in the file's `data` list
    pos: int
    title: str
    split: str
    paragraphs: tuple[str, ...]  # the contexts, as published

    @property
    def text(self) -> str:
        """The article file's text: title line, blank line, paragraphs separated by blank lines."""
        return "\n\n".join((self.title, *self.paragraphs)) + "\n"


@dataclass(frozen=True)
class KqQuestion:
    id: str
    question: str
    gold: tuple[str, ...]  # every answers[].text, as published
    split: str
    doc_id: str
    start: int  # the first gold answer's span in the cleaned article text (without surrounding spaces)
    end: int


@dataclass(frozen=True)
class KorQuAD:
    articles: tuple[KqArticle, ...]
    questions: tuple[KqQuestion, ...]
    cleaned: dict[str, Article]  # doc_id -> the article as the index stores it
    unmapped: tuple[str, ...] = ()  # ids of questions whose gold span could not be placed (expected: none)

    def split(self, name: str) -> list[KqQuestion]:
        return [q for q in self.questions if name in ("both", q.split)]


def _align(raw: str, clean: str) -> list[int]:
    """For each offset of `raw` (and its end), the offset in `clean`, the same text after `normalize` and the
    cleaner's space folding: characters are either kept, changed to a space, or dropped."""
    out, j = [], 0
    for ch in raw:
        out.append(j)
        c = normalize(ch).replace("\t", " ")
        if j < len(clean) and c == clean[j]:
            j += 1
    out.append(j)
    return out


def _clean_paragraph(p: str) -> str:
    return re.sub(r"[ \t]+", " ", normalize(p)).strip()


def load_korquad(path: Path = KORQUAD_FILE) -> KorQuAD:
    """The articles and questions of the file, each gold span placed in its cleaned article.

    Raises ValueError when the file is not KorQuAD's layout or a paragraph is not in its cleaned article
    verbatim (the cleaner would then have cut article text, and no offset could be trusted)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a KorQuAD 1.0 file ({type(e).__name__}: {e})") from e
    articles, questions, cleaned, unmapped = [], [], {}, []
    for pos, rec in enumerate(data):
        art = KqArticle(f"kq{pos:03d}", pos, rec["title"].strip(), SPLITS[pos % 2],
                        tuple(p["context"] for p in rec["paragraphs"]))
        article = parse_article(art.text.encode("utf-8"), f"{art.doc_id}.txt", {"title": art.title})
        articles.append(art)
        cleaned[art.doc_id] = article
        cursor = 0
        for p in rec["paragraphs"]:
            para = _clean_paragraph(p["context"])
            at = article.text.find(para, cursor)
            if at < 0:
                raise ValueError(f"{art.doc_id}: a paragraph is not in the cleaned article verbatim: {para[:60]!r}")
            cursor = at + len(para)
            offsets = _align(p["context"], para)
            for qa in p["qas"]:
                first = qa["answers"][0]
                gold = first["text"]  # two dev golds end in a space, which the span leaves out
                s0 = first["answer_start"] + len(gold) - len(gold.lstrip())
                start, end = at + offsets[s0], at + offsets[first["answer_start"] + len(gold.rstrip())]
                if article.text[start:end] != _clean_paragraph(first["text"]):
                    unmapped.append(qa["id"])
                    continue
                questions.append(KqQuestion(qa["id"], qa["question"], tuple(a["text"] for a in qa["answers"]),
                                            art.split, art.doc_id, start, end))
    return KorQuAD(tuple(articles), tuple(questions), cleaned, tuple(unmapped))


def left_out(articles: tuple[KqArticle, ...] | list[KqArticle], per_split: int = LEFT_OUT_PER_SPLIT) -> set[str]:
    """Articles left out of the second index: `per_split` of each split, evenly spread over it (positions
    0, 3.5, 7, ... of the split, rounded down), so every part of the file is represented."""
    out: set[str] = set()
    for split in SPLITS:
        mine = [a for a in articles if a.split == split]
        step = len(mine) / per_split
        out.update(mine[int(i * step)].doc_id for i in range(min(per_split, len(mine))))
    return out


def spread(questions: list[KqQuestion], limit: int | None) -> list[KqQuestion]:
    """`limit` questions spread over every article of `questions` (not the first ones): each article gets one,
    the rest go in proportion to its questions (largest remainder), evenly spaced through its paragraphs.
    With fewer than one per article, evenly spaced articles get one each. Deterministic; file order kept."""
    if not limit or limit >= len(questions):
        return list(questions)
    by_doc: dict[str, list[KqQuestion]] = {}
    for q in questions:
        by_doc.setdefault(q.doc_id, []).append(q)
    groups = list(by_doc.values())
    if limit < len(groups):
        return [groups[int(i * len(groups) / limit)][0] for i in range(limit)]
    extra = limit - len(groups)
    spare = sum(len(g) - 1 for g in groups)
    exact = [extra * (len(g) - 1) / spare for g in groups]
    quota = [1 + int(x) for x in exact]
    for i in sorted(range(len(groups)), key=lambda i: (-(exact[i] - int(exact[i])), i))[:limit - sum(quota)]:
        quota[i] += 1
    return [g[int(j * len(g) / n)] for g, n in zip(groups, quota) for j in range(n)]


def write_articles(articles: tuple[KqArticle, ...] | list[KqArticle], dest: Path,
                   exclude: set[str] | frozenset[str] = frozenset()) -> Path:
    """The article files (and metadata.json: title, outlet) of every article not in `exclude`; files already
    holding the same text are left alone, stale ones removed."""
    dest.mkdir(parents=True, exist_ok=True)
    keep, meta = set(), {}
    for a in articles:
        if a.doc_id in exclude:
            continue
        name = f"{a.doc_id}.txt"
        keep.add(name)
        meta[name] = {"title": a.title, "outlet": OUTLET}
        path = dest / name
        if not path.is_file() or path.read_text(encoding="utf-8") != a.text:
            path.write_text(a.text, encoding="utf-8")
    for stale in dest.glob("*.txt"):
        if stale.name not in keep:
            stale.unlink()
    body = json.dumps(meta, ensure_ascii=False, indent=1)
    meta_path = dest / "metadata.json"
    if not meta_path.is_file() or meta_path.read_text(encoding="utf-8") != body:
        meta_path.write_text(body, encoding="utf-8")
    return dest
