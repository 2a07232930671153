"""Traces: flat typed records and their Parquet tables, with explicit versioned pyarrow schemas."""
