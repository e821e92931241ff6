//! The stateful proxy (RFC 3261 §16): route preprocessing and request forwarding
//! ([`forward`]), the choice of targets ([`route`]: a [`Router`] in code, the static routes
//! of the configuration) and the response context of a forked request ([`context`]).
//!
//! The shard runs them: it validates a request (§16.3), preprocesses its routes, decides the
//! targets (a router, the registrar's bindings, or configured routes), forwards one copy per
//! target in a client transaction, group by group when it forks serially, and feeds every
//! branch's responses to the context, which says what goes upstream and which branches to
//! cancel.

pub mod context;
pub mod forward;
pub mod route;

pub use context::{upstream_status, ResponseContext, Verdict};
pub use forward::{next_hop, preprocess, routes_remain, write, Plan, Preprocess};
pub use route::{
    reason_phrase, Decision, Fork, ForkMode, HopError, NextHop, Route, RouteDomain, RouteRequest,
    Router, RouterFactory, StaticRoutes,
};
