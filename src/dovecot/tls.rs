//! TLS for the generated Dovecot: a self-signed certificate, or the admin's own.
//!
//! Owns: generating an ECDSA P-256 key and a self-signed server certificate for the
//! server's names (valid from yesterday for 365 days, serverAuth), and the SHA-256
//! fingerprint of a PEM certificate in the form mail programs show it
//! (`AB:CD:…`). In: names, PEM text. Out: PEM text and the fingerprint. Fails with a
//! message (bad PEM, a name that cannot go into a certificate).

use base64::Engine;
use chrono::{Datelike, Duration, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use sha2::{Digest, Sha256};

/// A generated certificate and its key, PEM.
pub struct Generated {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A self-signed certificate for `names` (DNS names or IP addresses; the first is the
/// subject's common name).
pub fn self_signed(names: &[String]) -> Result<Generated, String> {
    let mut params = CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot put {names:?} into a certificate: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    dn.push(DnType::OrganizationName, "mxsalvage read-only mail");
    params.distinguished_name = dn;
    let from = Utc::now() - Duration::days(1);
    let to = from + Duration::days(366);
    params.not_before = date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    params.not_after = date_time_ymd(to.year(), to.month() as u8, to.day() as u8);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
fn first_cert_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem
        .find(BEGIN)
        .ok_or("no certificate in it (expected a PEM file with BEGIN CERTIFICATE)")?
        + BEGIN.len();
    let len = pem[start..]
        .find(END)
        .ok_or("a certificate without its END CERTIFICATE line")?;
    let b64: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the certificate is not valid base64: {e}"))
}

/// SHA-256 of the (first) certificate, as `AB:CD:…`.
pub fn fingerprint(pem: &str) -> Result<String, String> {
    let der = first_cert_der(pem)?;
    Ok(Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_has_a_fingerprint() {
        let g = self_signed(&["mail.example.com".into(), "127.0.0.1".into()]).unwrap();
        assert!(g.key_pem.contains("PRIVATE KEY"));
        let f = fingerprint(&g.cert_pem).unwrap();
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(fingerprint("junk").is_err());
    }
}
