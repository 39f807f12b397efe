"""Search a loaded index: dense, BM25, fused and routed retrieval."""
