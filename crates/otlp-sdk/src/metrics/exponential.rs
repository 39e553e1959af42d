//! The base-2 exponential histogram aggregation (placeholder; being written).
