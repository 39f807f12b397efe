"""Score retrieval and answers on the question sets and third-party data."""
