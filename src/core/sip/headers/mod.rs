//! Typed views of header values, decoded on demand from a borrowed slice.
