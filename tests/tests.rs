//! Integration tests, one binary with a module per topic (as ripgrep does).
//! They need `make setup` to have run (weights and bundled library); `make test`
//! does that first.

mod analogy;
mod apply_checks;
mod arbitrary;
mod cin;
mod cli;
mod cli_help;
mod disk;
mod docs;
mod fast;
mod front_ends;
mod gpu_rehearsal;
mod gpuworker;
mod guard;
mod image_io;
mod jobs;
mod kinds;
mod lbfgs;
mod losses;
mod masks;
mod model_files;
mod model_paths;
mod motion;
mod msg;
mod oom;
mod options;
mod paths;
mod queue;
mod reliab;
mod run_views;
mod safety;
mod score;
mod seam_kinds;
mod store_contract;
mod store_pg;
mod store_pg_hosts;
mod training_lifecycle;
mod tui;
mod tui_newcomer;
mod util;
mod vgg;
mod video;
mod watch;
