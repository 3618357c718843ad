//! atelier: neural style transfer (Gatys et al.) on VGG19, with a terminal
//! workbench. The engine (`engine`) has no UI dependencies; `cli` is a thin
//! front end over it.

pub mod cli;
pub mod config;
pub mod engine;
pub mod jobs;
pub mod queue;
pub mod tui;
pub mod watch;
