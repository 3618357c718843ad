//! Fast style (Johnson et al. 2016, with Ulyanov et al.'s instance norm): a
//! feed-forward network trained once per style, then applied in one pass.

pub mod apply;
pub mod dataset;
pub mod import;
pub(crate) mod layers;
pub mod mix;
pub mod model_file;
pub mod models;
pub mod msg;
pub mod msg_style;
pub(crate) mod provenance;
pub(crate) mod safetensors_file;
pub mod train;
pub(crate) mod train_loop;
pub mod transformer;
