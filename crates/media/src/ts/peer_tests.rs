//! (peer tests: next)
