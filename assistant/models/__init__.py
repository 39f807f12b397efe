"""The models: the embedder's weights and backends, the reader LLM's weights, process and protocol."""
