"""Answer from the retrieved passages: the reader, verification, quotes, messages."""
