//! Arbitrary style in one pass, no training per style: AdaIN (Huang & Belongie
//! 2017) and the whitening-colouring transform (Li et al. 2017). A VGG19
//! encoder, a feature transform, and decoders trained once.

pub mod adain;
pub mod apply;
pub mod decoder;
pub mod encoder;
pub mod import;
pub mod model_file;
pub mod regions;
pub mod train;
pub mod wct;
