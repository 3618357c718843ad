//! The fixed sets of values options take, as clap value enums, so `--help`
//! lists the choices and a wrong value is refused by the parser with them.
//!
//! The engine has no clap dependency, so its enums get `ValueEnum` here. Each
//! name and alias is the engine's own spelling (its `FromStr`, which config
//! files go through as well); a test holds the two together.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::engine::arbitrary::encoder::EdgePadding;
use crate::engine::arbitrary::model_file::Method;
use crate::engine::fast::transformer::Norm;
use crate::engine::gatys::mrf::StyleLoss;
use crate::engine::gatys::spec::{Init, OptimizerKind};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::{Padding, Pooling};
use crate::queue::Status;

/// `impl ValueEnum` for an engine enum: each variant with its name and the
/// other spellings its `FromStr` accepts (hidden from the help).
macro_rules! value_enum {
    ($ty:ty { $($variant:expr => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                $(if *self == $variant {
                    return Some(PossibleValue::new($name)$(.alias($alias))*);
                })+
                None
            }
        }
    };
}

value_enum!(OptimizerKind {
    OptimizerKind::Lbfgs => "lbfgs" | "l-bfgs",
    OptimizerKind::Adam => "adam",
});
value_enum!(Init {
    Init::Content => "content",
    Init::Noise => "noise" | "random",
    Init::Style => "style",
});
value_enum!(Pooling {
    Pooling::Max => "max",
    Pooling::Avg => "avg",
});
value_enum!(Padding {
    Padding::Zero => "zero",
    Padding::Replicate => "replicate",
});
value_enum!(StyleLoss {
    StyleLoss::Gram => "gram",
    StyleLoss::Mrf => "mrf",
    StyleLoss::Both => "both",
});
value_enum!(ColorMode {
    ColorMode::None => "none",
    ColorMode::Luminance => "luminance",
    ColorMode::Histogram => "histogram",
});
// The norms a user picks; the conditional and inspiration norms follow from
// the styles (`--style` repeated, `--arch msg`).
value_enum!(Norm {
    Norm::Instance => "instance",
    Norm::Batch => "batch",
});
value_enum!(EdgePadding {
    EdgePadding::Reflect => "reflect",
    EdgePadding::Zero => "zero",
});

impl ValueEnum for Status {
    fn value_variants<'a>() -> &'a [Self] {
        &Status::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// What `train --arch` trains: an arbitrary-style decoder, or an MSG-Net
/// (without `--arch`: a fast-style network).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainArch {
    Arbitrary(Method),
    Msg,
}

impl ValueEnum for TrainArch {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            TrainArch::Arbitrary(Method::Adain),
            TrainArch::Arbitrary(Method::Wct),
            TrainArch::Msg,
        ]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            TrainArch::Arbitrary(m) => m.architecture(),
            TrainArch::Msg => "msg",
        }))
    }
}

/// A `--device` value: auto, cpu, cuda (gpu) or cuda:N. Not a fixed set, so
/// checked by the engine's own reading of the name; whether the device is
/// there is checked when it is used.
pub fn device_arg(s: &str) -> Result<String, String> {
    crate::engine::infra::device::DeviceKind::of_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;
    use std::str::FromStr;

    use super::*;

    /// Every name and alias the parser takes reads as the same variant
    /// through the engine's `FromStr` (what config files use).
    fn agrees<T>()
    where
        T: ValueEnum + FromStr + PartialEq + Debug,
        <T as FromStr>::Err: Debug,
    {
        for v in T::value_variants() {
            let pv = v.to_possible_value().unwrap();
            for name in pv.get_name_and_aliases() {
                assert_eq!(&name.parse::<T>().unwrap(), v, "{name}");
            }
        }
    }

    #[test]
    fn the_parsers_names_are_the_engines() {
        agrees::<OptimizerKind>();
        agrees::<Init>();
        agrees::<Pooling>();
        agrees::<Padding>();
        agrees::<StyleLoss>();
        agrees::<ColorMode>();
        agrees::<Norm>();
        agrees::<EdgePadding>();
        for m in [Method::Adain, Method::Wct] {
            let name = TrainArch::Arbitrary(m).to_possible_value().unwrap();
            assert_eq!(name.get_name().parse::<Method>().unwrap(), m);
        }
    }
}
