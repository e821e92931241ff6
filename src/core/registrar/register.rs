//! A REGISTER, from the parsed message to the registrar's decision and the Contact list of
//! its 200 (RFC 3261 §10.3), with the GRUUs of RFC 5627 §5.2 when the UA asked for them.

use smallvec::SmallVec;
use std::time::Instant;

use super::gruu::{self, TempGruus};
use super::{aor_key, Contact, FlowInfo, RegisterError, RegisterRequest, Registrar};
use crate::core::ids::Rng;
use crate::core::sip::headers::{ContactValue, Expires, OptionTags};
use crate::core::sip::message::Message;
use crate::core::sip::uri::Uri;
use crate::core::sip::validate::Checked;
use crate::core::sip::writer::{push_decimal, Writer};
use crate::core::sip::HeaderName;

/// What the registrar answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the AoR's bindings (the key is in the caller's buffer). `outbound`: a contact
    /// registered a flow (`+sip.instance` and `reg-id`, RFC 5626).
    Ok { outbound: bool },
    /// The To URI is no AoR of a domain served here: 404 (§10.3 step 5).
    NotHere,
    /// A Contact or Expires that does not parse: 400.
    Malformed,
    /// A GRUU as the AoR, or one of this registrar's GRUUs as a contact (which would send
    /// requests for it back to itself): 403 (RFC 5627 §5.1).
    Forbidden,
    /// Refused by the registrar's rules or limits.
    Refused(RegisterError),
}

impl Answer {
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            Answer::Ok { .. } => (200, "OK"),
            Answer::NotHere => (404, "Not Found"),
            Answer::Malformed => (400, "Bad Request"),
            Answer::Forbidden => (403, "Forbidden"),
            Answer::Refused(e) => e.status(),
        }
    }
}

/// Applies a validated REGISTER. `served` says whether a URI names a domain or address this
/// registrar serves; `aor` receives the canonical AoR for the 200's Contact list.
pub fn register(
    location: &mut dyn Registrar,
    now: Instant,
    msg: &Message<'_>,
    checked: &Checked<'_>,
    flow: FlowInfo,
    served: impl Fn(&Uri<'_>) -> bool,
    aor: &mut Vec<u8>,
) -> Answer {
    let to = checked.to.uri();
    if !served(to) || aor_key(to, aor).is_err() {
        return Answer::NotHere;
    }
    if gruu::Gruu::of(to).is_some() {
        return Answer::Forbidden;
    }
    let h = msg.headers();
    let expires = match h.get(HeaderName::Expires).map(Expires::parse) {
        None => None,
        Some(Ok(e)) => Some(e.0),
        Some(Err(_)) => return Answer::Malformed,
    };
    let mut star = false;
    let mut contacts: SmallVec<[Contact<'_>; 4]> = SmallVec::new();
    for value in h.all(HeaderName::Contact) {
        match ContactValue::parse(value) {
            Ok(ContactValue::Star) => star = true,
            Ok(ContactValue::Contacts(list)) => {
                for na in list {
                    let Ok(na) = na else {
                        return Answer::Malformed;
                    };
                    if gruu::Gruu::of(na.uri()).is_some() && served(na.uri()) {
                        return Answer::Forbidden;
                    }
                    contacts.push(Contact {
                        uri: na.uri().as_bytes(),
                        expires: na.expires(),
                        q: na.q(),
                        instance: na.instance(),
                        reg_id: na.reg_id(),
                    });
                }
            }
            Err(_) => return Answer::Malformed,
        }
    }
    let mut path: SmallVec<[u8; 128]> = SmallVec::new();
    for value in h.all(HeaderName::Path) {
        if !path.is_empty() {
            path.extend_from_slice(b", ");
        }
        path.extend_from_slice(value);
    }
    // §10.3: a REGISTER without Contact asks for the current bindings and changes nothing.
    if contacts.is_empty() && !star {
        return Answer::Ok { outbound: false };
    }
    let outbound = contacts
        .iter()
        .any(|c| c.instance.is_some() && c.reg_id.is_some());
    let request = RegisterRequest {
        aor,
        star,
        contacts: &contacts,
        expires,
        call_id: checked.call_id,
        cseq: checked.cseq.seq,
        path: &path,
        flow,
    };
    match location.register(now, &request) {
        Ok(()) => Answer::Ok { outbound },
        Err(e) => Answer::Refused(e),
    }
}

/// Whether any `name` header of a request lists option tag `tag`.
pub fn lists_tag(msg: &Message<'_>, name: HeaderName, tag: &[u8]) -> bool {
    msg.headers()
        .all(name)
        .flat_map(OptionTags::new)
        .flatten()
        .any(|t| t.eq_ignore_ascii_case(tag))
}

/// Mints the GRUUs of a 200 (RFC 5627 §5.2), for a REGISTER that said `Supported: gruu`.
pub struct Minter<'a> {
    pub gruus: &'a TempGruus,
    pub rng: &'a mut Rng,
}

/// Writes one Contact line per binding of `aor` with its remaining time (§10.3 step 8), its
/// `+sip.instance` and `reg-id` (RFC 5626 §6), and with a `minter` the public and a new
/// temporary GRUU of each binding that has an instance (RFC 5627 §5.2).
pub fn write_contacts(
    location: &dyn Registrar,
    aor: &[u8],
    now: Instant,
    mut minter: Option<Minter<'_>>,
    w: &mut Writer<'_>,
) {
    let mut value = Vec::with_capacity(256);
    for b in location.bindings(aor) {
        value.clear();
        value.push(b'<');
        value.extend_from_slice(b.contact());
        value.extend_from_slice(b">;expires=");
        push_decimal(&mut value, u64::from(b.remaining(now)));
        if let Some(q) = b.q() {
            value.extend_from_slice(b";q=");
            push_q(&mut value, q);
        }
        if !b.instance().is_empty() {
            // A quoted string (RFC 5626 §4.1); the codec hands the value over unquoted.
            let quoted = b.instance().starts_with(b"\"");
            value.extend_from_slice(b";+sip.instance=");
            if !quoted {
                value.push(b'"');
            }
            value.extend_from_slice(b.instance());
            if !quoted {
                value.push(b'"');
            }
        }
        if let Some(reg_id) = b.reg_id() {
            value.extend_from_slice(b";reg-id=");
            push_decimal(&mut value, u64::from(reg_id));
        }
        let registration = minter
            .as_ref()
            .filter(|_| !b.instance_id().is_empty())
            .and_then(|_| location.registration(aor, b.instance_id()));
        if let (Some(m), Some(registration)) = (minter.as_mut(), registration) {
            value.extend_from_slice(b";pub-gruu=\"");
            gruu::write_public(aor, b.instance_id(), &mut value);
            value.extend_from_slice(b"\";temp-gruu=\"");
            let token = m.gruus.mint(registration, m.rng.next_u64());
            gruu::write_temporary(aor, &token, &mut value);
            value.push(b'"');
        }
        w.header("Contact", &value);
    }
}

/// A q-value in thousandths as `0.5`, `1`, `0.125`.
fn push_q(out: &mut Vec<u8>, q: u16) {
    if q >= 1000 {
        out.push(b'1');
        return;
    }
    out.extend_from_slice(b"0.");
    let digits = [q / 100, q / 10 % 10, q % 10];
    let keep = if q % 100 == 0 {
        1
    } else if q % 10 == 0 {
        2
    } else {
        3
    };
    out.extend(digits[..keep].iter().map(|d| b'0' + *d as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_are_written_short() {
        for (q, want) in [
            (1000, "1"),
            (500, "0.5"),
            (120, "0.12"),
            (125, "0.125"),
            (0, "0.0"),
            (7, "0.007"),
        ] {
            let mut out = Vec::new();
            push_q(&mut out, q);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
