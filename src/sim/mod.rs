//! Virtual network and clock that runs shards with no sockets.
