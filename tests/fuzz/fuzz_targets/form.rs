//! Form bodies (`application/x-www-form-urlencoded`): `Form::parse` and `form_decode` on
//! arbitrary bytes never panic, and a parsed form keeps its promises: at most
//! `MAX_PARAMETERS` parameters, none twice, and `get` agrees with a decode of the pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signoff_edge::oauth::{form_decode, Form, FormError, MAX_PARAMETERS};

fuzz_target!(|data: &[u8]| {
    // One component alone: a decoded value is the input with `+` and `%XX` replaced, so
    // it is never longer than the input.
    if let Ok(decoded) = form_decode(data) {
        assert!(decoded.len() <= data.len());
    }
    match Form::parse(data) {
        Ok(form) => {
            let pairs: Vec<&[u8]> = data
                .split(|b| *b == b'&')
                .filter(|p| !p.is_empty())
                .collect();
            assert!(pairs.len() <= MAX_PARAMETERS);
            let mut names = Vec::new();
            for pair in pairs {
                let (name, value) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &[][..]),
                };
                let name = form_decode(name).expect("a parsed form's names decode");
                let value = form_decode(value).expect("a parsed form's values decode");
                assert!(!names.contains(&name), "a parsed form holds a name twice");
                // An empty value counts as absent (RFC 6749 3.1).
                let expected = (!value.is_empty()).then_some(value.as_str());
                assert_eq!(form.get(&name), expected);
                names.push(name);
            }
        }
        Err(FormError::Duplicate(name)) => {
            // The error may name the parameter, but never with anything unprintable.
            assert!(name == "(a parameter)" || name.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(_) => {}
    }
});
