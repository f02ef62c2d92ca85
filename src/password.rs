// placeholder until the real module lands (helper writing it)
pub fn is_prehashed(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    ["{BLF-CRYPT}", "{SSHA256}", "{SSHA512}", "{SHA512-CRYPT}", "{ARGON2I}", "{ARGON2ID}", "{SSHA}"].iter().any(|p| u.starts_with(p))
}
