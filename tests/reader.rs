//! Integration tests: reader.
