//! PEM armour (RFC 7468), read and written by `pem-rfc7468`.
use crate::jwk::{invalid, KeyError};

/// The first PEM block of `text`, re-wrapped into the strict form `pem-rfc7468` reads.
/// Keys reach the admin tool from many producers, so the framing is read the lax way
/// RFC 7468 section 3 describes: text before the `BEGIN` line and after the `END` line is
/// ignored, and the base64 body may come in lines of any width (76-column PEM is common)
/// with any line ends. The label and the base64 itself are still checked by the parser.
fn armour(text: &str) -> Vec<u8> {
    let Some(start) = text.find("-----BEGIN ") else {
        return text.trim().as_bytes().to_vec();
    };
    let mut lines = text[start..].lines().map(str::trim);
    let begin = lines.next().unwrap_or_default();
    let mut body = String::new();
    let mut end = None;
    for line in lines {
        if line.starts_with("-----END ") {
            end = Some(line);
            break;
        }
        body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    let mut out = format!("{begin}\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    // A block without its END line stays without one, and is refused.
    if let Some(end) = end {
        out.push_str(end);
        out.push('\n');
    }
    out.into_bytes()
}

/// The label of the PEM block in `text`, without decoding its body (so a private key is
/// recognised as one whatever its contents).
pub(crate) fn label(text: &str) -> Result<String, KeyError> {
    let armour = armour(text);
    pem_rfc7468::decode_label(&armour)
        .map(str::to_owned)
        .map_err(|e| invalid(format!("not PEM: {e}")))
}

/// The label and DER bytes of the PEM block in `text`.
pub(crate) fn decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let armour = armour(text);
    let (label, der) =
        pem_rfc7468::decode_vec(&armour).map_err(|e| invalid(format!("not PEM: {e}")))?;
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
    fn any_line_width_and_text_after_the_block_are_read() {
        let der: Vec<u8> = (0..=255).collect();
        let pem = encode("PUBLIC KEY", &der);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let wide: Vec<String> = body
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let wide = format!(
            "-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\ntrailing note\n",
            wide.join("\r\n")
        );
        assert_eq!(decode(&wide).unwrap(), ("PUBLIC KEY".into(), der));
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
