//! PEM armour (RFC 7468), read and written by `pem-rfc7468`.
use crate::jwk::{invalid, KeyError};

/// The armour as the parser sees it: leading text before the `BEGIN` line is allowed (as
/// RFC 7468 permits), surrounding whitespace ignored.
fn armour(text: &str) -> &[u8] {
    text.trim().as_bytes()
}

/// The label of the PEM block in `text`, without decoding its body (so a private key is
/// recognised as one whatever its contents).
pub(crate) fn label(text: &str) -> Result<&str, KeyError> {
    pem_rfc7468::decode_label(armour(text)).map_err(|e| invalid(format!("not PEM: {e}")))
}

/// The label and DER bytes of the PEM block in `text`.
pub(crate) fn decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let (label, der) =
        pem_rfc7468::decode_vec(armour(text)).map_err(|e| invalid(format!("not PEM: {e}")))?;
    Ok((label.to_owned(), der))
}

/// `der` as a PEM block, 64 characters a line, `\n` line ends.
#[cfg(any(feature = "signing", test))]
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .expect("a PEM label and DER encode")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_preamble_and_crlf() {
        let pem = encode("PUBLIC KEY", &[0x30, 0x00]);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(
            decode(&pem).unwrap(),
            ("PUBLIC KEY".into(), vec![0x30, 0x00])
        );
        let noisy = format!("a comment\r\n{}\n\n", pem.replace('\n', "\r\n"));
        assert_eq!(decode(&noisy).unwrap().1, vec![0x30, 0x00]);
        assert_eq!(label(&noisy).unwrap(), "PUBLIC KEY");
    }

    #[test]
    fn broken_armour_is_refused() {
        for bad in [
            "",
            "MAA=",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\nM!A=\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
