"""What the assistant says to a person in each language: refusals, notices and fallbacks."""

MESSAGES = {
    "ko": {
        "abstain": "기사에는 이 질문에 대한 답이 나와 있지 않습니다.",
        "empty": "질문을 입력해 주세요.",
        "korean_source": "",
        "articles_say": "기사 내용:",
        "from_article": "기사 원문",
        "pointer": "이 답의 근거 문장은 아래에 기사 원문 그대로 인용합니다 [{marker}].",
        "reader_missing": "AI 답변기를 쓸 수 없어 기사 문장을 그대로 인용합니다: {why}",
        "reader_failed": "AI 답변기가 실패해 기사 문장을 그대로 인용합니다: {why}",
        "dropped": "기사에서 확인되지 않은 문장 {n}개를 뺐습니다.",
        "unverified_english": "AI 번역을 기사와 대조해 확인하지 못했습니다. 원문은 출처에 있습니다.",
    },
    "en": {
        "abstain": "The articles don't say.",
        "empty": "Please ask a question.",
        "korean_source": "The articles (in Korean) say: ",
        "articles_say": "The articles say:",
        "from_article": "from the article",
        "pointer": "The sentence it rests on is quoted below in the original Korean [{marker}]: its English rendering "
                   "did not pass the check against it, so it is not shown.",
        "reader_missing": "The AI reader is unavailable, so the articles' own sentences are quoted: {why}",
        "reader_failed": "The AI reader failed, so the articles' own sentences are quoted: {why}",
        "dropped": "{n} sentence(s) the articles do not support were removed.",
        "unverified_english": "The AI reader's English rendering of the answering sentence changed a number, name, "
                              "direction or negation of the original, so only the original is shown.",
    },
}
