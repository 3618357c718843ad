//! Asks the terminal which image protocol it speaks and its cell size, without
//! eating keys. ratatui-image's own query reads stdin in a thread that is left
//! blocked when the terminal never answers (tmux without a client, a terminal
//! that ignores the queries): that thread then swallowed the first key typed,
//! however much later (issue 20). Here stdin is read only when `poll` says a
//! byte is waiting, with a deadline, before the input thread starts; bytes
//! that are not part of a reply (keys typed meanwhile) are handed back as key
//! events for the loop.

use std::io::Write;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_image::picker::cap_parser::{Parser, QueryStdioOptions, Response};
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::FontSize;

/// How long to wait for the terminal's replies.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// In tmux, how long to wait for the outer terminal after tmux's own reply.
const TMUX_GRACE: Duration = Duration::from_millis(300);

/// Splits what the terminal sends during the query into replies and keys.
#[derive(Default)]
pub struct Scan {
    parser: Parser,
    /// An escape sequence not yet complete.
    seq: Vec<u8>,
    /// Plain bytes not yet a whole UTF-8 character.
    text: Vec<u8>,
    pub responses: Vec<Response>,
    pub statuses: usize,
    pub keys: Vec<KeyEvent>,
}

impl Scan {
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.seq.is_empty() && b != 0x1b {
                self.plain(b);
                continue;
            }
            self.seq.push(b);
            if sequence_complete(&self.seq) {
                let seq = std::mem::take(&mut self.seq);
                for ch in String::from_utf8_lossy(&seq).chars() {
                    for r in self.parser.push(ch) {
                        if r == Response::Status {
                            self.statuses += 1;
                        } else {
                            self.responses.push(r);
                        }
                    }
                }
            }
        }
    }

    fn plain(&mut self, b: u8) {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        match b {
            b'\r' | b'\n' => self.keys.push(key(KeyCode::Enter)),
            b'\t' => self.keys.push(key(KeyCode::Tab)),
            0x7f | 0x08 => self.keys.push(key(KeyCode::Backspace)),
            1..=26 => self.keys.push(KeyEvent::new(
                KeyCode::Char(char::from(b'a' + b - 1)),
                KeyModifiers::CONTROL,
            )),
            _ => {
                self.text.push(b);
                match std::str::from_utf8(&self.text) {
                    Ok(s) => {
                        self.keys.extend(s.chars().map(|c| key(KeyCode::Char(c))));
                        self.text.clear();
                    }
                    // Invalid, not just incomplete: drop it.
                    Err(e) if e.error_len().is_some() => self.text.clear(),
                    Err(_) => {}
                }
            }
        }
    }

    /// The protocol and cell size the replies name.
    pub fn result(&self) -> (Option<ProtocolType>, Option<(u16, u16)>) {
        let mut proto = None;
        let mut cell = None;
        for r in &self.responses {
            match r {
                Response::Kitty => proto = Some(ProtocolType::Kitty),
                Response::Sixel if proto.is_none() => proto = Some(ProtocolType::Sixel),
                Response::CellSize(Some(c)) => cell = Some(*c),
                _ => {}
            }
        }
        (proto, cell)
    }
}

/// Whether `seq` (starting with ESC) is a whole escape sequence: CSI ends in
/// a final byte, OSC in BEL or ST, APC/DCS in ST, anything else after one byte.
fn sequence_complete(seq: &[u8]) -> bool {
    let st = seq.ends_with(b"\x1b\\") && seq.len() > 3;
    match seq {
        [_] => false,
        [_, b'['] => false,
        [_, b'[', .., last] => (0x40..=0x7e).contains(last),
        [_, b']', .., last] => *last == 0x07 || st,
        [_, b']'] | [_, b'_'] | [_, b'P'] => false,
        [_, b'_' | b'P', ..] => st,
        _ => true,
    }
}

fn in_tmux() -> bool {
    std::env::var("TERM").is_ok_and(|t| t.starts_with("tmux"))
        || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "tmux")
}

/// Queries the terminal (raw mode must be on, the input thread not started
/// yet). Returns the picker and the keys typed while waiting.
pub fn query() -> (Picker, Vec<KeyEvent>) {
    let tmux = in_tmux();
    let mut q = Parser::query(tmux, QueryStdioOptions::default());
    if tmux {
        // The wrapped queries go to the outer terminal, which may not exist
        // (no client) or not answer; tmux answers this one itself, so a
        // reply always comes.
        q.push_str("\x1b[5n");
    }
    let mut scan = Scan::default();
    let mut out = std::io::stdout();
    if out
        .write_all(q.as_bytes())
        .and_then(|_| out.flush())
        .is_ok()
    {
        read_replies(&mut scan, if tmux { 2 } else { 1 });
    }
    let (proto, cell) = scan.result();
    let cell = cell.or_else(cell_size_from_ioctl);
    let picker = match cell {
        Some((w, h)) => {
            // Deprecated in favour of the crate's own query, which is what
            // leaves a reader behind; this is the way to build a picker
            // from a query of our own.
            #[allow(deprecated)]
            let mut p = Picker::from_fontsize(FontSize::new(w, h));
            p.set_protocol_type(proto.unwrap_or(ProtocolType::Halfblocks));
            p
        }
        None => Picker::halfblocks(),
    };
    (picker, scan.keys)
}

/// Reads until `statuses` status replies came (tmux's own and the outer
/// terminal's) or the deadline; never blocks past it.
fn read_replies(scan: &mut Scan, statuses: usize) {
    let start = Instant::now();
    let mut deadline = start + TIMEOUT;
    let mut buf = [0u8; 256];
    while scan.statuses < statuses {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let ms = (deadline - now).as_millis().min(i32::MAX as u128) as i32;
        let mut fds = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, its count, a timeout in ms.
        let ready = unsafe { libc::poll(&mut fds, 1, ms) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if ready == 0 || fds.revents & libc::POLLIN == 0 {
            return;
        }
        // SAFETY: reads at most buf.len() bytes into buf; poll said one is there.
        let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return;
        }
        let before = scan.statuses;
        scan.push(&buf[..n as usize]);
        if before == 0 && scan.statuses > 0 && statuses > 1 {
            deadline = deadline.min(Instant::now() + TMUX_GRACE);
        }
    }
}

/// The cell size from the window's pixel size, where the terminal reports it.
fn cell_size_from_ioctl() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills a winsize.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_xpixel > 0 && ws.ws_ypixel > 0 && ws.ws_col > 0 && ws.ws_row > 0)
        .then(|| (ws.ws_xpixel / ws.ws_col, ws.ws_ypixel / ws.ws_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys typed during the query come back as keys; the replies are read.
    #[test]
    fn replies_are_parsed_and_typed_keys_are_kept() {
        let mut s = Scan::default();
        // A key, a DA1 reply naming sixel, a cell-size reply split across
        // reads, another key, the status reply, Enter and Ctrl-C.
        s.push(b"5\x1b[?62;4;22c\x1b[6;2");
        s.push(b"0;10tq\x1b[0n\r\x03");
        assert_eq!(s.statuses, 1);
        assert_eq!(s.result(), (Some(ProtocolType::Sixel), Some((10, 20))));
        let codes: Vec<(KeyCode, KeyModifiers)> =
            s.keys.iter().map(|k| (k.code, k.modifiers)).collect();
        assert_eq!(
            codes,
            [
                (KeyCode::Char('5'), KeyModifiers::NONE),
                (KeyCode::Char('q'), KeyModifiers::NONE),
                (KeyCode::Enter, KeyModifiers::NONE),
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
            ]
        );
    }

    #[test]
    fn kitty_wins_over_sixel_and_utf8_keys_survive_split_reads() {
        let mut s = Scan::default();
        s.push(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;4c\xc3");
        s.push(b"\xa9\x1b[0n");
        assert_eq!(s.result().0, Some(ProtocolType::Kitty));
        assert_eq!(s.keys.len(), 1);
        assert_eq!(s.keys[0].code, KeyCode::Char('é'));
    }
}
