//! Forwarding a request (RFC 3261 §16.4 route preprocessing and §16.6 steps 1 to 8): the
//! plan of edits, the next hop it implies, and the bytes it produces.
//!
//! Owns: which Route value is Drongo's own and comes off, the strict-router repair, the new
//! Request-URI, Max-Forwards, Record-Route, a binding's Path pushed as Route, and the new top
//! Via. Must not: choose targets (the proxy does) or send (the shard does).

use crate::core::sip::headers::{NameAddr, NameAddrs};
use crate::core::sip::message::Message;
use crate::core::sip::uri::Uri;
use crate::core::sip::validate::Checked;
use crate::core::sip::writer::{push_decimal, Editor};
use crate::core::sip::HeaderName;

/// What §16.4 asks of a received request before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preprocess<'a> {
    /// The Request-URI is one Drongo put in a Record-Route (the previous hop is a strict
    /// router): it becomes this, the last Route value, which comes off.
    pub strict_repair: Option<&'a [u8]>,
    /// The top Route value names Drongo: it comes off. The length of that value within its
    /// line's value.
    pub pop_top_route: Option<usize>,
}

/// Route preprocessing (§16.4). `is_me` says whether a URI names Drongo (one of its
/// addresses and ports; a URI Drongo put in a Record-Route has no user part).
pub fn preprocess<'a>(
    msg: &Message<'a>,
    checked: &Checked<'a>,
    is_me: impl Fn(&Uri<'_>) -> bool,
) -> Preprocess<'a> {
    let h = msg.headers();
    let mut out = Preprocess::default();
    let routes = || h.all(HeaderName::Route);
    if let Some(uri) = checked.request_uri {
        if uri.user().is_none() && is_me(&uri) {
            out.strict_repair = routes()
                .flat_map(NameAddrs::bracketed)
                .filter_map(Result::ok)
                .last()
                .map(|na| na.uri().as_bytes());
        }
    }
    if out.strict_repair.is_none() {
        if let Some(line) = routes().next() {
            if let Some(Ok(first)) = NameAddrs::bracketed(line).next() {
                if is_me(first.uri()) {
                    out.pop_top_route = Some(end_within(line, &first));
                }
            }
        }
    }
    out
}

/// Where a value ends within the line value it was read from.
fn end_within(line: &[u8], value: &NameAddr<'_>) -> usize {
    let raw = value.as_bytes();
    let start = (raw.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
    (start + raw.len()).min(line.len())
}

/// Where a value starts within the line value it was read from.
fn start_within(line: &[u8], value: &NameAddr<'_>) -> usize {
    let raw = value.as_bytes();
    (raw.as_ptr() as usize)
        .saturating_sub(line.as_ptr() as usize)
        .min(line.len())
}

/// The edits that forward a request to one target (§16.6).
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The route preprocessing of the received request.
    pub pre: Preprocess<'a>,
    /// The target's URI, the new Request-URI; `None` keeps the Request-URI (a request routed
    /// by its Route set, or one sent on to where it points).
    pub request_uri: Option<&'a [u8]>,
    /// Route values to push above the request's own (a binding's Path, RFC 3327 §5.3), as one
    /// header value; empty for none.
    pub push_route: &'a [u8],
    /// A Record-Route value to add (§16.6 step 4), e.g. `<sip:192.0.2.1:5060;lr>`.
    pub record_route: Option<&'a [u8]>,
    /// The new top Via value, with Drongo's branch (§16.6 step 8).
    pub via: &'a [u8],
}

/// Writes the forwarded request into `out` (cleared first).
pub fn write(msg: &Message<'_>, checked: &Checked<'_>, plan: &Plan<'_>, out: &mut Vec<u8>) {
    out.clear();
    let h = msg.headers();
    let mut e = Editor::new(msg);
    if let Some(last) = plan.pre.strict_repair {
        e.set_request_uri(last);
        if let Some(line) = h.all(HeaderName::Route).last() {
            if let Some(Ok(value)) = NameAddrs::bracketed(line).last() {
                e.remove_last_value(HeaderName::Route, start_within(line, &value));
            }
        }
    }
    if let Some(len) = plan.pre.pop_top_route {
        e.remove_first_value(HeaderName::Route, len);
    }
    if let Some(uri) = plan.request_uri {
        e.set_request_uri(uri);
    }
    // §16.6 step 3: decrement Max-Forwards, or add it.
    let mut mf = Vec::with_capacity(4);
    match checked.max_forwards {
        Some(n) => push_decimal(&mut mf, u64::from(n.saturating_sub(1))),
        None => mf.extend_from_slice(b"70"),
    }
    e.replace_header(HeaderName::MaxForwards, &mf);
    if !plan.push_route.is_empty() {
        e.prepend_header("Route", plan.push_route);
    }
    if let Some(rr) = plan.record_route {
        e.add_record_route(rr);
    }
    e.prepend_via(plan.via);
    e.write_to(out);
}

/// Whether the request's route set goes on past Drongo: a Route value is left once
/// preprocessing has taken Drongo's own off (a strict-router repair aside).
pub fn routes_remain(msg: &Message<'_>, pre: &Preprocess<'_>) -> bool {
    let values = msg
        .headers()
        .all(HeaderName::Route)
        .flat_map(NameAddrs::bracketed)
        .filter_map(Result::ok)
        .take(2)
        .count();
    values > usize::from(pre.pop_top_route.is_some())
}

/// The URI the forwarded request goes to (§16.6 step 7 and §16.12): the first pushed Route,
/// else the first Route left after preprocessing, else the Request-URI. `None` when that
/// value does not parse.
pub fn next_hop<'a>(msg: &Message<'a>, checked: &Checked<'a>, plan: &Plan<'a>) -> Option<Uri<'a>> {
    if let Some(Ok(first)) = NameAddrs::bracketed(plan.push_route).next() {
        return Some(*first.uri());
    }
    let h = msg.headers();
    let mut routes = h
        .all(HeaderName::Route)
        .flat_map(NameAddrs::bracketed)
        .filter_map(Result::ok);
    if plan.pre.pop_top_route.is_some() {
        routes.next();
    }
    let remaining: Option<NameAddr<'a>> = if plan.pre.strict_repair.is_some() {
        // The last value became the Request-URI; the first one (if any other) is next.
        let all: smallvec::SmallVec<[NameAddr<'a>; 4]> = routes.collect();
        (all.len() > 1).then(|| all[0])
    } else {
        routes.next()
    };
    if let Some(route) = remaining {
        return Some(*route.uri());
    }
    match (plan.request_uri, plan.pre.strict_repair) {
        (Some(uri), _) | (None, Some(uri)) => Uri::parse(uri).ok(),
        (None, None) => checked.request_uri,
    }
}

#[cfg(test)]
mod tests;
