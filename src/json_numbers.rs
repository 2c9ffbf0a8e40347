//! Floats in saved models, written so that every value reads back bit for
//! bit and JSON can hold them all. Used as `#[serde(with = "...")]`.
//!
//! - NaN and ±∞ (a diverged loss, an overflowed moment, an unbounded
//!   divergence factor), which JSON numbers cannot hold, are the strings
//!   `"NaN"`, `"inf"` and `"-inf"`.
//! - An f64 that is a float32 widened (a learning rate of 0.2 given as f32
//!   is 0.20000000298023224 as f64) is written as the float32's shortest
//!   decimal (`0.2`) and read back to the same f64.
//! - Any other f64 is written as its own shortest decimal: as a number, or,
//!   where that number would read as a widened float32 (an f64 of exactly
//!   0.1, say), as a string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn special(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("inf")
    } else if value == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// Whether `value`, read from JSON, stands for a float32 widened.
fn reads_as_widened(value: f64) -> bool {
    let narrow = value as f32;
    narrow.is_finite() && narrow.to_string().parse::<f64>() == Ok(value)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(f64),
    Text(String),
}

fn from_text<E: serde::de::Error>(text: &str) -> Result<f64, E> {
    match text {
        "NaN" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        other => other
            .parse()
            .map_err(|_| E::custom(format!("{other:?} is not a number"))),
    }
}

/// An f64 as this module writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Float64(pub(crate) f64);

impl Serialize for Float64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if let Some(text) = special(value) {
            return serializer.serialize_str(text);
        }
        let narrow = value as f32;
        if f64::from(narrow) == value {
            serializer.serialize_f32(narrow)
        } else if reads_as_widened(value) {
            serializer.serialize_str(&value.to_string())
        } else {
            serializer.serialize_f64(value)
        }
    }
}

impl<'de> Deserialize<'de> for Float64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Float64(match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Number(value) if reads_as_widened(value) => f64::from(value as f32),
            NumberOrText::Number(value) => value,
            NumberOrText::Text(text) => from_text(&text)?,
        }))
    }
}

/// An f32 as this module writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Float32(pub(crate) f32);

impl Serialize for Float32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match special(f64::from(self.0)) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_f32(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Float32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Float32(match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Number(value) => value as f32,
            NumberOrText::Text(text) => from_text::<D::Error>(&text)? as f32,
        }))
    }
}

/// `f64` fields.
pub(crate) mod float64 {
    use super::Float64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        Float64(*value).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Float64::deserialize(deserializer).map(|v| v.0)
    }
}

/// `Option<f64>` fields.
pub(crate) mod optional_float64 {
    use super::Float64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        value.map(Float64).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        Option::<Float64>::deserialize(deserializer).map(|v| v.map(|v| v.0))
    }
}

/// `Vec<f64>` fields.
pub(crate) mod float64s {
    use super::Float64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|&v| Float64(v)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Float64>::deserialize(deserializer).map(|v| v.into_iter().map(|v| v.0).collect())
    }
}

/// `Vec<f32>` fields.
pub(crate) mod float32s {
    use super::Float32;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|&v| Float32(v)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
        Vec::<Float32>::deserialize(deserializer).map(|v| v.into_iter().map(|v| v.0).collect())
    }
}

/// `Option<Vec<f32>>` fields.
pub(crate) mod optional_float32s {
    use super::Float32;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        values: &Option<Vec<f32>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        values
            .as_ref()
            .map(|v| v.iter().map(|&v| Float32(v)).collect::<Vec<_>>())
            .serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<f32>>, D::Error> {
        Option::<Vec<Float32>>::deserialize(deserializer)
            .map(|v| v.map(|v| v.into_iter().map(|v| v.0).collect()))
    }
}

/// `Option<(f64, usize)>` fields: a loss and its epoch.
pub(crate) mod optional_loss_and_epoch {
    use super::Float64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<(f64, usize)>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .map(|(loss, epoch)| (Float64(loss), epoch))
            .serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<(f64, usize)>, D::Error> {
        Option::<(Float64, usize)>::deserialize(deserializer).map(|v| v.map(|(loss, epoch)| (loss.0, epoch)))
    }
}
