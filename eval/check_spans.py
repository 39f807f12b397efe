#!/usr/bin/env python3
"""Validate eval/questions.jsonl against the two article files (stdlib only).

Checks:
  * schema (fields, allowed values, id prefixes, unanswerable => no evidence and empty answer)
  * every evidence span occurs verbatim inside ONE article-body line
    - 000: every non-empty line except the trailing "(취재: ..." credits line
    - 001: lines from the deck ("'저비용 고성능' AI 두 가지 쟁점") through the paragraph
      ending "배제할 수 없다는 얘기다.", minus the two photo-caption lines
  * span length (8-60 chars) and that the span is not also found in chrome-only text
  * kind "single" uses one document, kind "both" uses both documents
  * question does not copy long stretches of its evidence (longest common substring)
  * ids unique, count targets met, each (lang, kind) group split half/half (odd -> extra test)

Usage: python3 eval/check_spans.py [path/to/questions.jsonl]
Exit status 0 when all checks pass.
"""
import json
import os
import re
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARTICLES = os.path.join(ROOT, "articles")
QFILE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "questions.jsonl")

DOC_A = "000_a64cfab21b31744d"
DOC_B = "001_aa84c3a65afaa900"
B_START = "'저비용 고성능' AI 두 가지 쟁점"
B_END = "배제할 수 없다는 얘기다."
B_CAPTIONS = {"딥시크 [사진=블룸버그]", "엔비디아 2025년 초 이후 주가 추이 [자료=블룸버그]"}

MIN_SPAN, MAX_SPAN = 8, 60
MAX_COPY = 10  # longest run of characters a question may share with one of its spans

TARGETS = {
    "ko_answerable": 40,
    "en_answerable": 40,
    "ko_unanswerable": 10,
    "en_unanswerable": 10,
    "both": 6,
    "colloquial": 8,
    "misspelled": 6,
}
ID_RE = {
    "single": re.compile(r"^(ko|en)-\d{2}$"),
    "both": re.compile(r"^both-\d{2}$"),
    "unanswerable": re.compile(r"^(ko|en)-(un|off)-\d{2}$"),
}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def read_lines(doc_id: str) -> list[str]:
    with open(os.path.join(ARTICLES, doc_id + ".txt"), encoding="utf-8") as f:
        return f.read().split("\n")


def body_lines(doc_id: str) -> tuple[list[str], list[str]]:
    """Return (body, other) lists of non-empty lines."""
    lines = [ln for ln in read_lines(doc_id)]
    if doc_id == DOC_A:
        body = [ln for ln in lines if ln.strip() and not ln.strip().startswith("(취재:")]
        other = [ln for ln in lines if ln.strip().startswith("(취재:")]
        assert len(other) == 1, "expected exactly one credits line in 000"
        return body, other
    if doc_id == DOC_B:
        stripped = [ln.strip() for ln in lines]
        start = stripped.index(B_START)
        end = next(i for i, ln in enumerate(stripped) if ln.endswith(B_END))
        assert start < end
        inside = [ln for ln in lines[start:end + 1] if ln.strip()]
        caps = [ln for ln in inside if ln.strip() in B_CAPTIONS]
        assert len(caps) == 2, "expected both caption lines inside the 001 body range"
        body = [ln for ln in inside if ln.strip() not in B_CAPTIONS]
        other = [ln for ln in lines[:start] + caps + lines[end + 1:] if ln.strip()]
        return body, other
    raise KeyError(doc_id)


def longest_common_substring(a: str, b: str) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def main() -> int:
    docs = {d: body_lines(d) for d in (DOC_A, DOC_B)}
    errors, warnings = [], []
    rows = []
    with open(QFILE, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                rows.append(json.loads(raw))
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: bad JSON: {e}")

    ids = Counter(r.get("id") for r in rows)
    for i, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {i} ({c}x)")

    span_use = Counter()
    doc_use = Counter()
    for r in rows:
        rid = r.get("id", "?")
        for k in ("id", "lang", "kind", "style", "split", "question", "evidence", "answer"):
            if k not in r:
                errors.append(f"{rid}: missing field {k}")
        lang, kind, style, split = r.get("lang"), r.get("kind"), r.get("style"), r.get("split")
        if lang not in ("ko", "en"):
            errors.append(f"{rid}: bad lang {lang}")
        if kind not in ID_RE:
            errors.append(f"{rid}: bad kind {kind}")
            continue
        if style not in ("plain", "colloquial", "misspelled", "off-topic"):
            errors.append(f"{rid}: bad style {style}")
        if split not in ("dev", "test"):
            errors.append(f"{rid}: bad split {split}")
        if not ID_RE[kind].match(rid):
            errors.append(f"{rid}: id does not match kind {kind}")
        if kind != "both" and not rid.startswith(lang + "-"):
            errors.append(f"{rid}: id prefix disagrees with lang {lang}")
        q = r.get("question", "")
        if not q.strip():
            errors.append(f"{rid}: empty question")
        has_hangul = bool(HANGUL.search(q))
        if lang == "ko" and not has_hangul:
            errors.append(f"{rid}: ko question without Hangul")
        if lang == "en" and has_hangul:
            errors.append(f"{rid}: en question contains Hangul")
        ans = r.get("answer", "")
        ev = r.get("evidence", [])
        if kind == "unanswerable":
            if ev:
                errors.append(f"{rid}: unanswerable must have empty evidence")
            if ans != "":
                errors.append(f"{rid}: unanswerable must have empty answer")
            continue
        if not ans.strip():
            errors.append(f"{rid}: empty answer")
        if lang == "en" and HANGUL.search(ans):
            warnings.append(f"{rid}: English answer contains Hangul")
        if lang == "ko" and not HANGUL.search(ans):
            warnings.append(f"{rid}: Korean answer has no Hangul")
        if not ev:
            errors.append(f"{rid}: answerable question without evidence")
        used = set()
        for e in ev:
            d, t = e.get("doc_id"), e.get("text", "")
            if d not in docs:
                errors.append(f"{rid}: unknown doc_id {d}")
                continue
            used.add(d)
            body, other = docs[d]
            if not (MIN_SPAN <= len(t) <= MAX_SPAN):
                errors.append(f"{rid}: span length {len(t)} outside {MIN_SPAN}-{MAX_SPAN}: {t!r}")
            if "\n" in t:
                errors.append(f"{rid}: span contains a newline")
            hits = [ln for ln in body if t in ln]
            if not hits:
                where = " (found only in chrome/caption/teaser/credits text)" if any(t in ln for ln in other) else ""
                errors.append(f"{rid}: span not found in {d} body{where}: {t!r}")
            elif any(t in ln for ln in other):
                warnings.append(f"{rid}: span also occurs in non-body text of {d}: {t!r}")
            lcs = longest_common_substring(q, t)
            if lcs > MAX_COPY:
                errors.append(f"{rid}: question copies {lcs} consecutive chars of its evidence {t!r}")
            span_use[(d, t)] += 1
            doc_use[d] += 1
        if kind == "single" and len(used) != 1:
            errors.append(f"{rid}: single question must use exactly one document, uses {sorted(used)}")
        if kind == "both" and used != {DOC_A, DOC_B}:
            errors.append(f"{rid}: both question must cite both documents, uses {sorted(used)}")

    # ---- counts ----
    answerable = [r for r in rows if r.get("kind") in ("single", "both")]
    counts = {
        "ko_answerable": sum(r["lang"] == "ko" for r in answerable),
        "en_answerable": sum(r["lang"] == "en" for r in answerable),
        "ko_unanswerable": sum(r.get("kind") == "unanswerable" and r.get("lang") == "ko" for r in rows),
        "en_unanswerable": sum(r.get("kind") == "unanswerable" and r.get("lang") == "en" for r in rows),
        "both": sum(r.get("kind") == "both" for r in rows),
        "colloquial": sum(r.get("style") == "colloquial" for r in rows),
        "misspelled": sum(r.get("style") == "misspelled" for r in rows),
    }
    for k, need in TARGETS.items():
        if counts[k] < need:
            errors.append(f"count {k} = {counts[k]} < target {need}")

    # ---- splits ----
    groups = defaultdict(Counter)
    for r in rows:
        groups[(r.get("lang"), r.get("kind"))][r.get("split")] += 1
    for g, c in sorted(groups.items()):
        dev, test = c["dev"], c["test"]
        if not (dev == test or test == dev + 1):
            errors.append(f"split {g}: dev={dev} test={test} (want equal, odd extra to test)")

    # ---- coverage of article lines ----
    cover = {}
    for d, (body, _) in docs.items():
        covered = sum(any(t in ln for (dd, t) in span_use if dd == d) for ln in body)
        cover[d] = (covered, len(body))

    # ---- summary ----
    print(f"questions: {len(rows)}  file: {QFILE}")
    for k, v in counts.items():
        print(f"  {k:16s} {v:3d}  (target >= {TARGETS[k]})")
    print("by lang x kind (dev/test):")
    for g, c in sorted(groups.items()):
        print(f"  {g[0]} {g[1]:13s} total={sum(c.values()):3d} dev={c['dev']:3d} test={c['test']:3d}")
    print("by style:", dict(Counter(r.get("style") for r in rows)))
    print("by split:", dict(Counter(r.get("split") for r in rows)))
    print("evidence spans per doc:", dict(doc_use))
    for d, (c, n) in cover.items():
        print(f"  body lines of {d} with >=1 span: {c}/{n}")
    for w in warnings:
        print("WARN:", w)
    for e in errors:
        print("ERROR:", e)
    print("RESULT:", "PASS" if not errors else f"FAIL ({len(errors)} errors)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
