"""The index: build it, the store seam (FAISS files or Milvus), its manifest, BM25 and vectors."""
