//! Lexical helpers shared by the SIP codec (RFC 3261 §25.1).
