"""Read, clean and date articles, cut them into passages; Korean text analysis; third-party corpora."""
