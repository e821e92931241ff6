//! Where the shard sends an initial request whose route set ends at Drongo (RFC 3261 §16.5):
//! the target set, in the order it is tried.
//!
//! In order: the shard's [`Router`] when one is installed (it may forward, answer, or fall
//! through); for a user of a domain Drongo serves, the location service (its bindings, forked
//! by q: equal q in parallel, a lower q only when every branch of the higher one failed,
//! RFC 3261 §16.6 and the q-ordering of RFC 3841); then the static routes of the
//! configuration (longest user prefix). A next hop of a route or router:
//! - for a Request-URI of a domain Drongo serves, becomes the Request-URI with the user part
//!   kept (`sip:+4420...@10.0.0.1:5060;transport=tcp`): the hop stands in for a binding,
//!   since a trunk would not route a URI of Drongo's own domain;
//! - for any other Request-URI, is pushed as a loose-routing Route (`<sip:10.0.0.1;lr>`,
//!   §16.6 step 6) and the Request-URI stays, so the trunk sees the destination it serves;
//!   the request is sent to the hop's address by §16.6 step 7 (the first Route), never by a
//!   local policy that bypasses the Route.

use smallvec::SmallVec;

use super::proxy::Target;
use super::{Flow, Shard, Source};
use crate::core::proxy::{Decision, ForkMode, NextHop, RouteRequest, Router};
use crate::core::sip::message::Message;
use crate::core::sip::uri::Uri;
use crate::core::sip::validate::Checked;
use crate::core::sip::Method;

/// Fork targets in the order they are tried: the targets of one group are forked in
/// parallel, and a group starts when every branch of the one before has failed (§16.6).
#[derive(Debug, Default)]
pub(super) struct TargetSet {
    targets: Vec<Target>,
    /// Where each group ends in `targets`, in order.
    ends: SmallVec<[usize; 4]>,
}

impl TargetSet {
    /// One target, on its own.
    pub(super) fn one(target: Target) -> Self {
        let mut set = TargetSet::default();
        set.push_group([target]);
        set
    }

    /// Adds a group after the others (nothing for no targets).
    pub(super) fn push_group(&mut self, targets: impl IntoIterator<Item = Target>) {
        self.targets.extend(targets);
        if self.ends.last().copied().unwrap_or(0) < self.targets.len() {
            self.ends.push(self.targets.len());
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub(super) fn groups(&self) -> usize {
        self.ends.len()
    }

    /// The targets of group `index`; empty past the last.
    pub(super) fn group(&self, index: usize) -> &[Target] {
        let start = match index.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(usize::MAX),
            None => 0,
        };
        let end = self.ends.get(index).copied().unwrap_or(0);
        self.targets.get(start..end).unwrap_or_default()
    }
}

/// Targets with their q (thousandths), best first: each run of equal q is one group.
impl FromIterator<(u16, Target)> for TargetSet {
    fn from_iter<I: IntoIterator<Item = (u16, Target)>>(iter: I) -> Self {
        let mut set = TargetSet::default();
        let mut last_q = None;
        for (q, target) in iter {
            if last_q.is_some_and(|last| last != q) {
                set.ends.push(set.targets.len());
            }
            last_q = Some(q);
            set.targets.push(target);
        }
        if !set.targets.is_empty() {
            set.ends.push(set.targets.len());
        }
        set
    }
}

/// What routing decided for a request.
pub(super) enum Routing {
    /// Proxy it (an empty set is answered 480).
    Targets(TargetSet),
    /// Answer it with this status.
    Answer(u16),
    /// Nothing chose a target.
    Nothing,
}

impl Shard {
    /// Installs the router this shard consults first for every initial request whose route
    /// set ends at Drongo (replacing any made by [`super::ShardConfig::router`]).
    pub fn set_router(&mut self, router: Box<dyn Router>) {
        self.router = Some(router);
    }

    /// The router, the location service and the static routes, in that order, for an
    /// initial request to `uri`; `served`: the URI names a domain Drongo serves.
    pub(super) fn route_new_request(
        &mut self,
        src: Source,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
        uri: &Uri<'_>,
        served: bool,
    ) -> Routing {
        if let Some(mut router) = self.router.take() {
            let request = RouteRequest {
                method,
                request_uri: *uri,
                from: checked.from,
                to: checked.to,
                call_id: checked.call_id,
                headers: msg.headers(),
                source: src.remote,
                local: src.local,
                reliable: !matches!(src.flow, Flow::Udp),
                served,
            };
            let routing = match router.route(&request) {
                Decision::Forward(fork) => Some(Routing::Targets(hop_targets(
                    &fork.hops, fork.mode, uri, served,
                ))),
                Decision::Respond(status) if (400..=699).contains(&status) => {
                    Some(Routing::Answer(status))
                }
                Decision::Respond(_) => Some(Routing::Answer(500)),
                Decision::FallThrough => None,
            };
            self.router = Some(router);
            if let Some(routing) = routing {
                return routing;
            }
        }
        if served && uri.user().is_some() {
            let bindings = self.binding_targets(uri);
            if !bindings.is_empty() {
                return Routing::Targets(bindings);
            }
        }
        match self.config.routes.lookup(uri) {
            Some(route) => Routing::Targets(hop_targets(&route.hops, route.mode, uri, served)),
            None => Routing::Nothing,
        }
    }
}

/// The targets of next hops for a request to `uri`: serially one hop per group, in
/// parallel one group. `retarget`: the URI is Drongo's own, so each hop becomes the
/// Request-URI (user kept) rather than a Route (see the module doc).
fn hop_targets(hops: &[NextHop], mode: ForkMode, uri: &Uri<'_>, retarget: bool) -> TargetSet {
    let target = |hop: &NextHop| {
        let mut text = Vec::with_capacity(48);
        if retarget {
            hop.write_uri(uri.user(), &mut text);
            Target {
                uri: Some(text),
                path: Vec::new(),
                dest: None,
            }
        } else {
            hop.write_route(&mut text);
            Target {
                uri: None,
                path: text,
                dest: None,
            }
        }
    };
    let mut set = TargetSet::default();
    match mode {
        ForkMode::Parallel => set.push_group(hops.iter().map(target)),
        ForkMode::Serial => {
            for hop in hops {
                set.push_group([target(hop)]);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(n: u8) -> Target {
        Target {
            uri: Some(vec![n]),
            path: Vec::new(),
            dest: None,
        }
    }

    fn names(set: &TargetSet) -> Vec<Vec<u8>> {
        (0..set.groups())
            .map(|g| {
                set.group(g)
                    .iter()
                    .filter_map(|t| t.uri.as_ref().map(|u| u[0]))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn equal_q_forks_together_and_lower_q_waits() {
        let set: TargetSet = [(1000, 1), (1000, 2), (500, 3), (100, 4), (100, 5)]
            .into_iter()
            .map(|(q, n)| (q, target(n)))
            .collect();
        assert_eq!(names(&set), [vec![1, 2], vec![3], vec![4, 5]]);
        assert!(set.group(3).is_empty());
        let none: TargetSet = std::iter::empty().collect();
        assert!(none.is_empty());
        assert_eq!(none.groups(), 0);
    }

    #[test]
    fn hops_fork_serially_or_in_parallel() {
        let hops = [
            NextHop::parse("sip:10.0.0.1;transport=tcp").unwrap(),
            NextHop::parse("sip:10.0.0.2").unwrap(),
        ];
        let foreign = Uri::parse(b"sip:+4420@carrier.example").unwrap();
        let serial = hop_targets(&hops, ForkMode::Serial, &foreign, false);
        assert_eq!(serial.groups(), 2);
        let first = &serial.group(0)[0];
        assert_eq!(first.uri, None, "the Request-URI stays");
        assert_eq!(first.path, b"<sip:10.0.0.1:5060;transport=tcp;lr>");
        let parallel = hop_targets(&hops, ForkMode::Parallel, &foreign, false);
        assert_eq!((parallel.groups(), parallel.group(0).len()), (1, 2));
        let own = Uri::parse(b"sip:+4420@sbc.example").unwrap();
        let retargeted = hop_targets(&hops, ForkMode::Serial, &own, true);
        let first = &retargeted.group(0)[0];
        assert_eq!(
            first.uri.as_deref(),
            Some(&b"sip:+4420@10.0.0.1:5060;transport=tcp"[..])
        );
        assert!(first.path.is_empty());
    }
}
