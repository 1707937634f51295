//! Integration tests: measure.
