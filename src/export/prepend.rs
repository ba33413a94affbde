//! The headers Postfix's local(8) delivery prepends to every mailbox copy.
//!
//! Owns: `Return-Path: <sender>`, `X-Original-To: <original recipient, else the
//! recipient>`, `Delivered-To: <recipient, lower case>` — the same spelling as
//! Postfix's `mail_copy()` (angle brackets only on Return-Path). In: envelope bytes.
//! Out: header bytes ending in LF. Pure; bytes are carried as they are, except that
//! CR and LF inside an envelope value (which cannot occur in a sane queue file) become
//! spaces so they cannot start a new header.

use std::collections::HashMap;

use crate::report::model::MessageInfo;

use crate::decode::names::mailbox_key;

fn clean(v: &[u8]) -> Vec<u8> {
    v.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// The three header lines for one recipient of one message.
pub fn delivery_headers(sender: &[u8], original: Option<&[u8]>, recipient: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(64 + sender.len() + 2 * recipient.len());
    h.extend_from_slice(b"Return-Path: <");
    h.extend_from_slice(&clean(sender));
    h.extend_from_slice(b">\nX-Original-To: ");
    h.extend_from_slice(&clean(
        original.filter(|o| !o.is_empty()).unwrap_or(recipient),
    ));
    h.extend_from_slice(b"\nDelivered-To: ");
    h.extend_from_slice(&clean(&mailbox_key(recipient)));
    h.push(b'\n');
    h
}

/// The headers for the bundle `key` (a mailbox key) of a message: taken from the first
/// of the message's recipients that belongs to that mailbox.
pub fn for_mailbox(info: &MessageInfo, key: &[u8]) -> Vec<u8> {
    let r = info
        .recipients
        .iter()
        .find(|r| mailbox_key(&r.address.0) == key);
    match r {
        Some(r) => delivery_headers(
            &info.sender.0,
            r.original.as_ref().map(|o| o.0.as_slice()),
            &r.address.0,
        ),
        None => delivery_headers(&info.sender.0, None, key),
    }
}

/// The headers for every mailbox of a message at once (one pass over its recipients,
/// so a message with many recipients costs linear time): mailbox key → headers.
pub fn by_mailbox(info: &MessageInfo) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut m = HashMap::with_capacity(info.recipients.len());
    for r in &info.recipients {
        m.entry(mailbox_key(&r.address.0)).or_insert_with(|| {
            delivery_headers(
                &info.sender.0,
                r.original.as_ref().map(|o| o.0.as_slice()),
                &r.address.0,
            )
        });
    }
    m
}

/// [`by_mailbox`] with the fallback of [`for_mailbox`] for a key it lacks.
pub fn lookup(map: &HashMap<Vec<u8>, Vec<u8>>, info: &MessageInfo, key: &[u8]) -> Vec<u8> {
    map.get(key)
        .cloned()
        .unwrap_or_else(|| delivery_headers(&info.sender.0, None, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_postfix() {
        assert_eq!(
            delivery_headers(b"a@x", Some(b"Alias@Y"), b"Bob@Y"),
            b"Return-Path: <a@x>\nX-Original-To: Alias@Y\nDelivered-To: bob@y\n"
        );
        assert_eq!(
            delivery_headers(b"", None, b"b@y"),
            b"Return-Path: <>\nX-Original-To: b@y\nDelivered-To: b@y\n"
        );
    }
}
