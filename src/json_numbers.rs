//! Numbers in saved models that JSON cannot write plainly, used as
//! `#[serde(with = "...")]`.

/// f64 values that may be NaN or infinite (a diverged loss, a best loss
/// not yet set, an unbounded divergence factor), which JSON numbers cannot
/// hold: those are written as the strings "NaN", "inf" and "-inf".
pub(crate) mod any_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if *value > 0.0 {
            serializer.serialize_str("inf")
        } else {
            serializer.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Number(value) => Ok(value),
            NumberOrText::Text(text) => match text.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("{other:?} is not a number"))),
            },
        }
    }
}

/// f64 values that are usually a float32 setting widened (a learning rate
/// of 0.2 given as f32 is 0.20000000298023224 as f64): written as the
/// float32's shortest decimal (`0.2`) and read back to the same f64; other
/// values are written in full.
pub(crate) mod widened_f32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        let narrow = *value as f32;
        if f64::from(narrow) == *value {
            serializer.serialize_f32(narrow)
        } else {
            serializer.serialize_f64(*value)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let value = f64::deserialize(deserializer)?;
        let narrow = value as f32;
        // A float32 written as its shortest decimal reads back as that
        // decimal; anything else was written in full and is kept.
        let shortest: f64 = narrow.to_string().parse().unwrap_or(f64::NAN);
        Ok(if shortest == value {
            f64::from(narrow)
        } else {
            value
        })
    }
}
