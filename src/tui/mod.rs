//! The workbench: a ratatui TUI over the engine and the run store.
//!
//! One event channel feeds the loop: keys (input thread), ticks, store
//! snapshots and command results (store thread), worker news (the TUI's own
//! worker thread, unless `tui.start_worker = false`), and decoded images
//! (image thread). The loop only draws state and turns keys into actions, so a
//! frame never waits on the GPU, the database or image decoding.

pub mod app;
pub mod browse;
pub mod browse_refine;
pub mod chart;
pub mod data;
pub mod event;
pub mod images;
pub mod keymap;
pub mod lib_item;
pub mod panes;
pub mod probe;
pub mod tab;
pub mod theme;
pub mod ui;
pub mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use ratatui_image::picker::{Picker, ProtocolType};

use crate::config::{resolve, Config};
use crate::engine::fast::models::ModelLibrary;
use crate::engine::infra::device::parse_device;
use crate::queue::Store;
use app::App;
use data::Command;
use event::Event;
use keymap::Keymap;

/// The preview-as-you-browse thread, unless `[tui] browse_preview` is
/// "off" (`Ok(None)`) or names no adain/wct model (`Err`: what to tell the
/// user; paintings then preview as themselves).
fn browse_preview(
    config: &Config,
    app: &App,
    device: tch::Device,
    tx: mpsc::Sender<Event>,
) -> Result<Option<browse::Browser>, String> {
    let name = config.tui.browse_preview.trim();
    if name.is_empty() || name == "off" {
        return Ok(None);
    }
    let entry = app.model_entry(name).ok_or_else(|| {
        format!("browse preview off: no model '{name}' ([tui] browse_preview; `atelier models ls`)")
    })?;
    if entry.arbitrary.is_none() {
        return Err(format!(
            "browse preview off: '{name}' is not an adain or wct model ([tui] browse_preview)"
        ));
    }
    let out = directories::ProjectDirs::from("", "", "atelier")
        .map(|d| d.cache_dir().join("browse"))
        .unwrap_or_else(|| std::env::temp_dir().join("atelier-browse"));
    let weights = resolve(&config.paths.weights);
    let refine = config
        .browse_refine(device.is_cuda())
        .map(|d| browse_refine::Refine::new(config.run.clone(), d.size, d.steps, weights.clone()));
    Ok(Some(browse::Browser::spawn(
        entry.name, entry.path, weights, device, out, refine, tx,
    )))
}

/// Opens the TUI on `data_dir` and runs it until the user quits.
pub fn run(config: &Config, data_dir: PathBuf) -> Result<()> {
    let started = std::time::Instant::now();
    // Fail before touching the terminal on anything the user must fix.
    let keymap = Keymap::new(&config.tui.keys)?;
    let theme = theme::Theme::new(&config.tui.theme)?;
    Store::open(&data_dir)?;
    let device = parse_device(&config.worker.device)?;
    let _log = init_logging(&data_dir)?;
    tracing::info!("atelier TUI starting on {}", data_dir.display());

    let gpu = device.is_cuda();
    let spec = config.preset_spec(None, gpu)?;
    // Checked when the config was read, so none is skipped in practice.
    let presets = config
        .presets
        .keys()
        .filter_map(|name| Some((name.clone(), config.preset_spec(Some(name), gpu).ok()?)))
        .collect();
    let mut app = App::new(
        keymap,
        panes::library::load_library(&resolve(&config.paths.contents)),
        panes::library::load_library(&resolve(&config.paths.styles)),
        spec,
    )
    .with_presets(presets)
    .with_limits(
        config.limits(),
        crate::engine::infra::library::Library::open(&resolve(&config.paths.styles)).ok(),
    )
    .with_theme(theme)
    .with_device(crate::engine::infra::device::device_name(device))
    .with_models(
        ModelLibrary::new(
            resolve(std::path::Path::new("models")),
            data_dir.join("models"),
        )
        .with_styles_dir(resolve(&config.paths.styles)),
    );

    // Compose trains on the training set once `make dataset` has made it,
    // else on the Library's photos, so a fresh checkout can train at once.
    app.compose.set_datasets(
        [
            resolve(&crate::engine::fast::train::TrainSpec::default().dataset),
            resolve(&config.paths.contents),
        ]
        .iter()
        .filter_map(|p| panes::compose::train::DatasetChoice::scan(p, false).ok())
        .collect(),
    );

    app.worker_status = match config.tui.start_worker {
        true => "worker: starting",
        false => "worker: external",
    }
    .into();

    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    keep_worker_panics_off_the_screen();
    // A first frame before the terminal is asked about images (up to a
    // second when it does not answer): the screen is never blank meanwhile.
    // Its images are asked for again by the next frame.
    terminal.draw(|f| ui::draw(f, &app, &mut Vec::new()))?;
    tracing::info!(
        "first frame {} ms after start",
        started.elapsed().as_millis()
    );
    let (tx, rx) = mpsc::channel::<Event>();
    // Before the input thread: the query reads stdin itself, and hands back
    // any key typed meanwhile.
    let (picker, typed) = picker(config);
    tracing::info!(
        "terminal answered {} ms after start",
        started.elapsed().as_millis()
    );
    for k in typed {
        let _ = tx.send(Event::Key(k));
    }
    event::spawn_input(tx.clone());
    event::spawn_ticker(tx.clone(), Duration::from_millis(500));
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
    data::spawn(
        data_dir.clone(),
        config.worker.stale_after,
        config.watch.clone(),
        device,
        cmd_rx,
        tx.clone(),
    );
    let (img_tx, img_rx) = mpsc::channel();
    let cache =
        directories::ProjectDirs::from("", "", "atelier").map(|d| d.cache_dir().join("thumbs"));
    images::spawn(picker, cache, img_rx, tx.clone());
    let browser = browse_preview(config, &app, device, tx.clone()).unwrap_or_else(|msg| {
        app.say(msg);
        None
    });
    app.browse_model = browser.as_ref().map(|b| b.model.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let worker = if config.tui.start_worker {
        Some(
            worker::spawn(
                config.worker_config_for(&config.worker.device, false)?,
                &data_dir,
                stop.clone(),
                tx.clone(),
            )
            .context("cannot start the worker thread")?,
        )
    } else {
        None
    };

    let result = (|| -> Result<()> {
        while !app.quit {
            let mut want = Vec::new();
            terminal.draw(|f| ui::draw(f, &app, &mut want))?;
            for key in app.images.request(want) {
                let _ = img_tx.send(key);
            }
            if let Some(b) = &browser {
                if b.set_busy(browse::device_taken(&app.snap.workers, device)) {
                    app.browse.retry();
                }
                if let Some(key) = app.browse_request() {
                    b.ask(key);
                }
            }
            for cmd in app.outbox.drain(..) {
                let _ = cmd_tx.send(cmd);
            }
            if let Some(text) = app.clipboard.take() {
                osc52(&text);
            }
            // Block for one event, then take whatever else is waiting, so a
            // burst of news costs one frame.
            let Ok(first) = rx.recv() else { break };
            handle(&mut app, first);
            while let Ok(ev) = rx.try_recv() {
                handle(&mut app, ev);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    if let Some(w) = worker {
        stop.store(true, Ordering::SeqCst);
        // Only a worker with a run has something to give back.
        match app.worker_status.starts_with("worker: run") {
            true => println!("stopping the worker (its current run goes back to the queue)…"),
            false => println!("stopping the worker…"),
        }
        let _ = w.join();
    }
    tracing::info!("atelier TUI stopped");
    result
}

fn handle(app: &mut App, ev: Event) {
    match ev {
        Event::Key(k) => app.on_key(k),
        Event::Resize | Event::Tick => {}
        Event::Data(s) => app.on_data(*s),
        Event::Worker(w) => app.on_worker(*w),
        Event::Image(l) => app.on_image(*l),
        Event::Browse(d) => app.browse.insert(*d),
        Event::Notice(m) => app.say(m),
        Event::WorkerStopped(m) => app.on_worker_stopped(m),
    }
}

/// ratatui's panic hook restores the terminal and prints the panic, which
/// would tear down the screen of a TUI that is still running when only the
/// worker thread panicked: that panic is logged here and shown by the UI
/// (see [`worker::supervise`]); any other panic goes to the previous hook.
fn keep_worker_panics_off_the_screen() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(worker::THREAD) {
            tracing::error!("worker panicked: {info}");
        } else {
            previous(info);
        }
    }));
}

/// The image protocol: detected from the terminal, or as configured (needed
/// over SSH and in tmux, where detection can fail).
fn picker(config: &Config) -> (Picker, Vec<ratatui::crossterm::event::KeyEvent>) {
    let (mut p, typed) = match config.tui.image_protocol.as_str() {
        "halfblocks" => (Picker::halfblocks(), Vec::new()),
        _ => probe::query(),
    };
    match config.tui.image_protocol.as_str() {
        "sixel" => p.set_protocol_type(ProtocolType::Sixel),
        "kitty" => p.set_protocol_type(ProtocolType::Kitty),
        "iterm2" => p.set_protocol_type(ProtocolType::Iterm2),
        "halfblocks" => p.set_protocol_type(ProtocolType::Halfblocks),
        _ => {}
    }
    (p, typed)
}

/// Logs go to `<data dir>/logs/atelier.log`, never to the screen.
fn init_logging(data_dir: &std::path::Path) -> Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(&dir, "atelier.log"));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}

/// Puts text on the clipboard of the terminal (also over SSH) with OSC 52.
fn osc52(text: &str) {
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
    let _ = out.flush();
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
