//! Every decoder of the interface's data fields, on arbitrary bytes: they
//! return errors, never panic.
#![no_main]

use applet_spec::messages::{self, CardStatus, DynamicAuth, KeypadLayout};
use applet_spec::reports::{Discovery, KeyHistory, Version};
use applet_spec::{atr, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = DynamicAuth::decode(data);
    let _ = CardStatus::decode(data);
    let _ = KeypadLayout::decode(data);
    let _ = messages::parse_select_response(data);
    let _ = messages::parse_get_data_request(data);
    let _ = messages::parse_put_data_request(data);
    let _ = messages::parse_data_object(data);
    let _ = messages::parse_cert_object(data);
    let _ = messages::parse_chuid_guid(data);
    let _ = messages::parse_generate_request(data);
    let _ = messages::parse_rsa_public_key(data);
    let _ = messages::parse_set_management_key_request(data);
    let _ = messages::Metadata::decode(data);
    let _ = messages::PublicKeyData::decode(data);
    let _ = messages::PublicKeyData::decode_inner(data);
    let _ = messages::parse_import_key_request(data);
    let _ = messages::parse_ecdh_request(data);
    let _ = messages::parse_key_history(data);
    let _ = Version::decode(data).map(|v| v.oddities());
    let _ = Discovery::decode(data).map(|d| (d.oddities(), d.pin_policy.map(|p| p.to_string())));
    let _ = KeyHistory::decode(data).map(|h| h.oddities());
    let _ = tlv::shallow(data);
    let _ = tlv::flat::parse(data);
    let _ = tlv::parse_seq(data);
    let _ = atr::parse(data);
});
