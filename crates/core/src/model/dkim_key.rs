//! DKIM key material: the public half of a private key, as mailcow stores it. Used by
//! validation (a key written in the file must be one) and by the DKIM kind.

/// The public half of a PEM private key, as mailcow stores it (base64 DER, one line).
pub fn public_b64(private_pem: &str) -> Result<String, String> {
    public_key(private_pem).map(|(public, _)| public)
}

/// The public half and the modulus size of an RSA private key in PEM: PKCS#8 (`BEGIN PRIVATE
/// KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), both of which mailcow's import and rspamd read.
pub fn public_key(private_pem: &str) -> Result<(String, u32), String> {
    use base64::Engine;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::traits::PublicKeyParts;
    let pem = private_pem.trim();
    let key = rsa::PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| "the DKIM private key is not an RSA private key in PEM (PKCS#8 or PKCS#1)".to_string())?;
    let public = key.to_public_key();
    let der = public.to_public_key_der().map_err(|e| e.to_string())?;
    Ok((base64::engine::general_purpose::STANDARD.encode(der.as_bytes()), public.n().bit_width()))
}
