//! Human units: sizes (`2 GiB`, `unlimited`) and rate limits (`100/1h`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

const KIB: u64 = 1024;
const MIB: u64 = KIB * 1024;
const GIB: u64 = MIB * 1024;
const TIB: u64 = GIB * 1024;
const UNITS: [(&str, u64); 5] = [("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB), ("B", 1)];

/// mailcow's size columns are BIGINT and its PHP computes in signed 64-bit integers.
const MAX_BYTES: u64 = i64::MAX as u64;

/// A size in bytes. Written with a binary unit (`512 MiB`, `2 GiB`, `1 TiB`), or `unlimited`.
/// A zero size is refused: mailcow reads 0 as unlimited, which nobody writing `0 GiB` means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

impl Size {
    pub const UNLIMITED: Size = Size(0);
    pub fn from_mib(mib: u64) -> Size {
        Size(mib * MIB)
    }
    pub fn bytes(self) -> u64 {
        self.0
    }
    /// mailcow keeps domain limits in whole MiB.
    pub fn mib(self) -> u64 {
        self.0 / MIB
    }
    pub fn is_unlimited(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("unlimited");
        }
        let (unit, factor) = UNITS.iter().find(|(_, factor)| self.0.is_multiple_of(*factor)).copied().unwrap_or(("B", 1));
        write!(f, "{} {unit}", self.0 / factor)
    }
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t == "unlimited" {
            return Ok(Size(0));
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        let too_large = || format!("`{s}` is more than mailcow can store; the largest size is `8388607 TiB`");
        let n: u64 = num
            .parse()
            .map_err(|_| if num.is_empty() { format!("`{s}` is not a size; write a number and a unit, e.g. `2 GiB` or `512 MiB`") } else { too_large() })?;
        if n == 0 {
            return Err(zero(s));
        }
        let factor = UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .map(|(_, f)| *f)
            .ok_or_else(|| format!("`{s}` has no binary unit; write one of B, KiB, MiB, GiB, TiB (e.g. `2 GiB`), or `unlimited`"))?;
        n.checked_mul(factor).filter(|b| *b <= MAX_BYTES).map(Size).ok_or_else(too_large)
    }
}

fn zero(s: &str) -> String {
    format!("`{s}` would mean unlimited in mailcow; write `unlimited` for no limit, or a size of at least 1 MiB")
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as `2 GiB`, `512 MiB` or `unlimited`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                if v == 0 { Err(E::custom(zero("0"))) } else { Err(E::custom(format!("`{v}` has no unit; write e.g. `{v} MiB` or `{v} GiB`"))) }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                if v < 0 {
                    return Err(E::custom("a size cannot be negative"));
                }
                self.visit_u64(v as u64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size with a binary unit (`512 MiB`, `2 GiB`), at most `8388607 TiB`; `unlimited` for no limit (0 is refused: mailcow would read it as unlimited).",
            "type": "string",
            "pattern": "^\\s*(unlimited|0*[1-9][0-9]*\\s*([KMGT]i)?B)\\s*$"
        })
    }
}

/// The time frame of a rate limit, as mailcow's `rl_frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    Second,
    Minute,
    Hour,
    Day,
}

impl Frame {
    pub fn letter(self) -> char {
        match self {
            Frame::Second => 's',
            Frame::Minute => 'm',
            Frame::Hour => 'h',
            Frame::Day => 'd',
        }
    }
    pub fn from_letter(c: char) -> Option<Frame> {
        Some(match c {
            's' => Frame::Second,
            'm' => Frame::Minute,
            'h' => Frame::Hour,
            'd' => Frame::Day,
            _ => return None,
        })
    }
}

/// Messages per time frame: `100/1h` (also `100/h`); frames are s, m, h, d.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub messages: u32,
    pub frame: Frame,
}

impl RateLimit {
    /// The value mailcow keeps in Redis `RL_VALUE`, e.g. `100 / 1h`.
    pub fn redis_value(&self) -> String {
        format!("{} / 1{}", self.messages, self.frame.letter())
    }
    pub fn parse_redis(s: &str) -> Option<RateLimit> {
        s.replace(' ', "").parse().ok()
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/1{}", self.messages, self.frame.letter())
    }
}

impl std::str::FromStr for RateLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a rate limit; write messages per frame, e.g. `100/1h` (frames: s, m, h, d)");
        let (n, frame) = s.split_once('/').ok_or_else(bad)?;
        let messages: u32 = n.trim().parse().map_err(|_| bad())?;
        let frame = frame.trim();
        let frame = frame.strip_prefix('1').unwrap_or(frame);
        let mut chars = frame.chars();
        let f = chars.next().and_then(Frame::from_letter).ok_or_else(bad)?;
        if chars.next().is_some() || messages == 0 {
            return Err(bad());
        }
        Ok(RateLimit { messages, frame: f })
    }
}

impl Serialize for RateLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for RateLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RateLimit".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Messages per time frame, e.g. `100/1h`; frames are s, m, h, d.",
            "type": "string",
            "pattern": "^\\s*[1-9][0-9]*\\s*/\\s*1?[smhd]\\s*$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_through_text() {
        for (text, bytes) in [("2 GiB", 2 * GIB), ("512MiB", 512 * MIB), ("unlimited", 0), ("3 B", 3), ("1536 MiB", 1536 * MIB)] {
            let s: Size = text.parse().unwrap();
            assert_eq!(s.bytes(), bytes, "{text}");
            assert_eq!(s.to_string().parse::<Size>().unwrap(), s);
        }
        assert!("2 GB".parse::<Size>().unwrap_err().contains("binary unit"));
        assert!("lots".parse::<Size>().is_err());
        assert_eq!("8388607 TiB".parse::<Size>().unwrap().bytes(), 8388607 * TIB);
        // 2^63 bytes overflowed mailcow's BIGINT into a negative quota.
        assert!("8388608 TiB".parse::<Size>().unwrap_err().contains("more than mailcow can store"));
        for zero in ["0", "0 GiB", "0B"] {
            assert!(zero.parse::<Size>().unwrap_err().contains("write `unlimited`"), "{zero}");
        }
    }

    #[test]
    fn rate_limits_match_mailcow_encoding() {
        let r: RateLimit = "100/1h".parse().unwrap();
        assert_eq!(r.redis_value(), "100 / 1h");
        assert_eq!(RateLimit::parse_redis("100 / 1h"), Some(r));
        assert_eq!("5/d".parse::<RateLimit>().unwrap().to_string(), "5/1d");
        assert!("0/1h".parse::<RateLimit>().is_err());
        assert!("10/2h".parse::<RateLimit>().is_err());
    }
}
