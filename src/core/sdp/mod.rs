//! SDP (RFC 8866), zero-copy parse and minimal-edit write.
