//! Objects and their templates share one list of settings. This macro declares that list once
//! and builds both the object (with its own identity fields) and the plain settings struct.

/// `settings_struct!(@object #[attrs] Name { own fields } common: Settings { field: Type, ... })`
/// declares `Name` with its own fields followed by every common field as `Option<Type>`, and
/// `Name::settings()` copying the common fields out. `@base` declares the settings struct itself,
/// with `overlay`, which fills each unset field from a base (a template).
macro_rules! settings_struct {
    (@object $(#[$meta:meta])* $name:ident { $($own:tt)* }
     common: $settings:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$meta])*
        pub struct $name {
            $($own)*
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
        impl $name {
            pub fn settings(&self) -> $settings {
                $settings { $( $field: self.$field.clone(), )* }
            }
        }
    };
    (@base $(#[$meta:meta])* $name:ident { }
     common: $settings:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$meta])*
        pub struct $settings {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
        impl $settings {
            /// Unset fields take the base's value: an object over its template.
            pub fn overlay(self, base: &$settings) -> $settings {
                $settings { $( $field: self.$field.or_else(|| base.$field.clone()), )* }
            }
        }
    };
}
pub(crate) use settings_struct;
