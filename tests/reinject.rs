//! Integration tests: reinject.
