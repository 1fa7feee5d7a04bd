//! Token Status List (draft-ietf-oauth-status-list, as approved for publication): the
//! byte array of status values, its compressed `lst` form, and the signed Status List
//! Token (`typ` `statuslist+jwt`).
//!
//! Index `i` with `bits` bits per value lives in byte `i * bits / 8`, in the bits counted
//! from the least significant one (the draft's section "Compressed Byte Array"); the byte
//! array travels ZLIB-compressed (RFC 1950, DEFLATE inside) at the highest level, as
//! unpadded base64url.

use std::io::{Read, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::sign::{sign_compact, JwsSigner, SignError};

/// The JWT `typ` of a Status List Token.
pub const STATUS_LIST_JWT_TYPE: &str = "statuslist+jwt";
/// Its media type, for `Content-Type` and `Accept`.
pub const STATUS_LIST_JWT_MEDIA_TYPE: &str = "application/statuslist+jwt";

/// The status values the draft registers.
pub const VALID: u8 = 0x00;
pub const INVALID: u8 = 0x01;
pub const SUSPENDED: u8 = 0x02;

/// Why a status list could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    #[error("bits must be 1, 2, 4 or 8")]
    Bits,
    #[error("status value {value} does not fit in {bits} bit(s)")]
    Value { value: u8, bits: u8 },
    #[error("index {0} is outside the list")]
    Index(usize),
    #[error("lst is not base64url")]
    Base64,
    #[error("lst is not a ZLIB stream of at most {0} bytes")]
    Compressed(usize),
}

/// A status list: `len` values of `bits` bits each, all VALID until set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    len: usize,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `len` VALID entries.
    pub fn new(bits: u8, len: usize) -> Result<Self, StatusListError> {
        if !matches!(bits, 1 | 2 | 4 | 8) {
            return Err(StatusListError::Bits);
        }
        let bytes = vec![0; (len * usize::from(bits)).div_ceil(8)];
        Ok(Self { bits, len, bytes })
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// How many entries the list holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The uncompressed byte array.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The byte and the shift of entry `index`.
    fn position(&self, index: usize) -> Result<(usize, u32), StatusListError> {
        if index >= self.len {
            return Err(StatusListError::Index(index));
        }
        let bit = index * usize::from(self.bits);
        Ok((bit / 8, (bit % 8) as u32))
    }

    fn mask(&self) -> u8 {
        u8::MAX >> (8 - self.bits)
    }

    /// Sets entry `index` to `value`.
    pub fn set(&mut self, index: usize, value: u8) -> Result<(), StatusListError> {
        if value > self.mask() {
            return Err(StatusListError::Value {
                value,
                bits: self.bits,
            });
        }
        let (byte, shift) = self.position(index)?;
        let mask = self.mask() << shift;
        self.bytes[byte] = (self.bytes[byte] & !mask) | (value << shift);
        Ok(())
    }

    /// The value of entry `index`.
    pub fn get(&self, index: usize) -> Result<u8, StatusListError> {
        let (byte, shift) = self.position(index)?;
        Ok((self.bytes[byte] >> shift) & self.mask())
    }

    /// The byte array, ZLIB-compressed at the highest level.
    pub fn compressed(&self) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&self.bytes)
            .expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }

    /// The `lst` member: the compressed byte array as unpadded base64url.
    pub fn lst(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.compressed())
    }

    /// The `status_list` claim: `{"bits", "lst"}`.
    pub fn to_json(&self) -> Value {
        json!({"bits": self.bits, "lst": self.lst()})
    }

    /// Reads an `lst` of `bits` bits per entry whose byte array is at most `max_bytes`
    /// (a bound on what a small compressed input may inflate to). Every entry the bytes
    /// hold counts: a list does not record how many were assigned.
    pub fn from_lst(bits: u8, lst: &str, max_bytes: usize) -> Result<Self, StatusListError> {
        let compressed = URL_SAFE_NO_PAD
            .decode(lst)
            .map_err(|_| StatusListError::Base64)?;
        Self::from_compressed(bits, &compressed, max_bytes)
    }

    /// [`StatusList::from_lst`] of the compressed bytes.
    pub fn from_compressed(
        bits: u8,
        compressed: &[u8],
        max_bytes: usize,
    ) -> Result<Self, StatusListError> {
        let mut empty = Self::new(bits, 0)?;
        let mut bytes = Vec::new();
        ZlibDecoder::new(compressed)
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| StatusListError::Compressed(max_bytes))?;
        if bytes.len() > max_bytes {
            return Err(StatusListError::Compressed(max_bytes));
        }
        empty.len = bytes.len() * 8 / usize::from(bits);
        empty.bytes = bytes;
        Ok(empty)
    }
}

/// What a Status List Token says besides its list: where it lives (`sub`, the `uri` its
/// Referenced Tokens carry), when it was issued and until when it may be used and cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListClaims<'a> {
    pub uri: &'a str,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Seconds a consumer may cache the token before fetching a fresh one.
    pub ttl: u64,
}

/// The Status List Token of `list`: a JWT with `typ` `statuslist+jwt` and the claims
/// `sub`, `iat`, `exp`, `ttl` and `status_list`, signed by `signer`.
pub async fn sign_status_list_token<S: JwsSigner>(
    signer: &S,
    claims: &StatusListClaims<'_>,
    list: &StatusList,
) -> Result<String, SignError> {
    let payload = json!({
        "sub": claims.uri,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "ttl": claims.ttl,
        "status_list": list.to_json(),
    });
    sign_compact(signer, &json!({"typ": STATUS_LIST_JWT_TYPE}), &payload).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The draft's 1-bit example: 16 entries, bytes 0xB9 0xA3.
    const ONE_BIT: [u8; 16] = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    /// Its 2-bit example: 12 entries, bytes 0xC9 0x44 0xF9.
    const TWO_BITS: [u8; 12] = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];

    #[test]
    fn the_drafts_examples_pack_from_the_least_significant_bit() {
        let mut list = StatusList::new(1, 16).unwrap();
        for (i, v) in ONE_BIT.iter().enumerate() {
            list.set(i, *v).unwrap();
        }
        assert_eq!(list.bytes(), [0xB9, 0xA3]);
        let mut list = StatusList::new(2, 12).unwrap();
        for (i, v) in TWO_BITS.iter().enumerate() {
            list.set(i, *v).unwrap();
        }
        assert_eq!(list.bytes(), [0xC9, 0x44, 0xF9]);
    }

    #[test]
    fn the_drafts_compressed_arrays_read_back_entry_by_entry() {
        let list = StatusList::from_compressed(1, &hex("78dadbb918000217015d"), 1024).unwrap();
        assert_eq!(list.len(), 16);
        let read: Vec<u8> = (0..16).map(|i| list.get(i).unwrap()).collect();
        assert_eq!(read, ONE_BIT);
        let list = StatusList::from_compressed(2, &hex("78da3be9f2130003df0207"), 1024).unwrap();
        let read: Vec<u8> = (0..12).map(|i| list.get(i).unwrap()).collect();
        assert_eq!(read, TWO_BITS);
    }

    #[test]
    fn lst_is_zlib_at_the_highest_level_and_round_trips() {
        let mut list = StatusList::new(1, 1_000_000).unwrap();
        for i in (0..1_000_000).step_by(997) {
            list.set(i, INVALID).unwrap();
        }
        let compressed = list.compressed();
        // A ZLIB header (CMF 0x78: deflate, 32 KiB window) with FLEVEL 3 (best).
        assert_eq!(compressed[..2], [0x78, 0xDA]);
        assert!(compressed.len() < 10_000, "{}", compressed.len());
        let read = StatusList::from_lst(1, &list.lst(), 125_000).unwrap();
        assert_eq!(read, list);
        assert_eq!(read.get(997 * 3).unwrap(), INVALID);
        assert_eq!(read.get(997 * 3 + 1).unwrap(), VALID);
    }

    #[test]
    fn out_of_range_values_indexes_and_inflation_are_refused() {
        let mut list = StatusList::new(1, 8).unwrap();
        assert_eq!(list.set(8, 1), Err(StatusListError::Index(8)));
        assert_eq!(
            list.set(0, SUSPENDED),
            Err(StatusListError::Value { value: 2, bits: 1 })
        );
        assert_eq!(list.get(9), Err(StatusListError::Index(9)));
        assert_eq!(StatusList::new(3, 8), Err(StatusListError::Bits));
        let big = StatusList::new(8, 10_000).unwrap();
        assert_eq!(
            StatusList::from_lst(8, &big.lst(), 9_999),
            Err(StatusListError::Compressed(9_999))
        );
        assert_eq!(
            StatusList::from_lst(1, "not base64!", 10),
            Err(StatusListError::Base64)
        );
    }
}
