//! The request-field reader alone, on any text (as `new_text` of a body gives it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesayuda::domain::text::{field_key, new_text, read_fields};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for t in [text.as_ref(), &new_text(&text)] {
        let fields = read_fields(t);
        for f in fields.iter() {
            // Values are single-line and trimmed; every name can be looked up again.
            assert!(!f.value.contains('\n'), "multi-line value {:?}", f.value);
            assert_eq!(f.value.trim(), f.value);
            assert_eq!(f.name.trim(), f.name);
            assert!(!f.name.is_empty());
            assert!(
                fields.get(&f.name).is_some(),
                "{:?} not found again",
                f.name
            );
            let _ = field_key(&f.name);
        }
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert!(fields
            .missing(&names)
            .iter()
            .all(|n| fields.get(n) == Some("")));
    }
});
