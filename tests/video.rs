//! `atelier video`: tiny clips made by ffmpeg (64×48, a few frames, a sine
//! audio track), stylized with the bundled fast model or a few Gatys steps.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{atelier_in, error_of, root, stdout_ok, write_pattern};

/// Runs ffmpeg with `args` (split on spaces; quiet, overwriting) writing
/// `out`, failing the test if it fails.
fn ffmpeg(args: &str, out: &Path) {
    let res = Command::new("ffmpeg")
        .args("-hide_banner -v error -y".split(' '))
        .args(args.split(' '))
        .arg(out)
        .output()
        .expect("ffmpeg is installed (scripts/setup.sh)");
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "ffmpeg {args}: {err}");
}

/// A 64×48 test pattern clip of `frames` frames at 10 fps with a sine track.
fn clip(dir: &Path, frames: u32) -> PathBuf {
    let p = dir.join("clip.mp4");
    let secs = f64::from(frames) / 10.0;
    ffmpeg(
        &format!(
            "-f lavfi -i testsrc=size=64x48:rate=10 -f lavfi -i sine=frequency=440:sample_rate=8000 \
             -frames:v {frames} -t {secs} -c:v libx264 -pix_fmt yuv420p -c:a aac"
        ),
        &p,
    );
    p
}

/// ffprobe's view of a file: (frames counted, rate, has audio).
fn probe(p: &Path) -> (u64, String, bool) {
    let out = Command::new("ffprobe")
        .args("-v error -count_frames -print_format json -show_streams".split(' '))
        .arg(p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"].as_array().unwrap();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("a video stream");
    let frames = video["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let rate = video["r_frame_rate"].as_str().unwrap().to_string();
    let audio = streams.iter().any(|s| s["codec_type"] == "audio");
    (frames, rate, audio)
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_model_keeps_the_clips_frames_rate_and_audio() {
    let t = tempfile::tempdir().unwrap();
    let input = clip(t.path(), 6);
    let out = t.path().join("out.mp4");
    let mut c = atelier_in(&t.path().join("data"));
    c.args(["video", "--model", "irises", "-o"])
        .arg(&out)
        .arg(&input);
    let text = stdout_ok(&mut c);
    assert!(text.contains("6 frames"), "{text}");
    assert_eq!(probe(&out), probe(&input));
    assert_eq!(probe(&out), (6, "10/1".to_string(), true));
    // Nothing else is left beside it (no temporary frames or partial video).
    let stray: Vec<String> = names(t.path())
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn gatys_takes_a_folder_of_frames_and_writes_one() {
    let t = tempfile::tempdir().unwrap();
    let frames = t.path().join("in");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..3 {
        write_pattern(&frames.join(format!("f{i}.png")), 48 + i, 32);
    }
    let out = t.path().join("out/");
    let style = root().join("styles/436535.jpg");
    let mut c = atelier_in(&t.path().join("data"));
    c.args(["video", "--size", "32", "--steps", "2", "--style"])
        .arg(&style)
        .arg("-o")
        .arg(&out)
        .arg(&frames);
    stdout_ok(&mut c);
    assert_eq!(names(&out), ["000001.png", "000002.png", "000003.png"]);
    let img = image::open(out.join("000003.png")).unwrap();
    assert_eq!((img.width(), img.height()), (32, 21));
    // A second run does not write into the frames of the first.
    let e = error_of(
        atelier_in(&t.path().join("data"))
            .args(["video", "--size", "32", "--steps", "2", "--style"])
            .arg(&style)
            .arg("-o")
            .arg(&out)
            .arg(&frames),
    );
    assert!(e.contains("already exists"), "{e}");
}

/// Mean absolute difference between consecutive frames of a folder, 0–255.
fn change_between_frames(dir: &Path) -> f64 {
    let frames: Vec<image::RgbImage> = names(dir)
        .iter()
        .map(|n| image::open(dir.join(n)).unwrap().to_rgb8())
        .collect();
    let mut sum = 0.0;
    let mut n = 0.0;
    for w in frames.windows(2) {
        for (a, b) in w[0].as_raw().iter().zip(w[1].as_raw()) {
            sum += (f64::from(*a) - f64::from(*b)).abs();
            n += 1.0;
        }
    }
    sum / n
}

/// A still shot whose `n` frames (48 px) differ only by noise, in `dir/in`:
/// a zero flow is right for it, whatever the flow estimator.
fn noisy_still(dir: &Path, n: u32) -> PathBuf {
    let frames = dir.join("in");
    std::fs::create_dir(&frames).unwrap();
    let base = image::open(root().join("contents/chelsea.png"))
        .unwrap()
        .to_rgb8();
    let base = atelier::engine::infra::image_io::resize_longer_side(&base, 48);
    let mut seed = 7u32;
    for i in 0..n {
        let mut f = base.clone();
        for p in f.iter_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *p = p.saturating_add((seed >> 28) as u8 * 2);
        }
        f.save(frames.join(format!("{i}.png"))).unwrap();
    }
    frames
}

/// How much the frames of `atelier video FRAMES ARGS --temporal-weight W`
/// change from one to the next.
fn change_with(dir: &Path, frames: &Path, args: &[&str], weight: &str) -> f64 {
    let out = dir.join(format!("out-{weight}"));
    let mut c = atelier_in(&dir.join("data"));
    c.arg("video")
        .args(args)
        .args(["--temporal-weight", weight, "-o"])
        .arg(format!("{}/", out.display()))
        .arg(frames);
    stdout_ok(&mut c);
    change_between_frames(&out)
}

/// A model's frames of a noisy still shot change less with the temporal
/// blend than without.
#[test]
fn the_temporal_blend_steadies_a_noisy_static_shot() {
    let t = tempfile::tempdir().unwrap();
    let frames = noisy_still(t.path(), 4);
    let args = ["--model", "irises"];
    let independent = change_with(t.path(), &frames, &args, "0");
    let steady = change_with(t.path(), &frames, &args, "1");
    assert!(
        steady < 0.8 * independent,
        "steady {steady:.2} vs independent {independent:.2}"
    );
}

/// Gatys frames of a noisy still shot change less with the temporal loss
/// (and the previous result as the start) than each on its own.
#[test]
fn the_temporal_loss_steadies_gatys_frames_of_a_noisy_static_shot() {
    let t = tempfile::tempdir().unwrap();
    let frames = noisy_still(t.path(), 3);
    let style = root().join("styles/436535.jpg");
    let style = style.to_str().unwrap();
    let args = ["--size", "32", "--steps", "10", "--style", style];
    let independent = change_with(t.path(), &frames, &args, "0");
    let steady = change_with(t.path(), &frames, &args, "1000");
    assert!(
        steady < 0.8 * independent,
        "steady {steady:.2} vs independent {independent:.2}"
    );
}

/// The one line of a failed `atelier video` and that nothing was written.
fn refused(dir: &Path, input: &Path, path_env: Option<&str>) -> String {
    let out = dir.join("out.mp4");
    let mut c = atelier_in(&dir.join("data"));
    c.args(["video", "--model", "irises", "-o"])
        .arg(&out)
        .arg(input);
    if let Some(p) = path_env {
        c.env("PATH", p);
    }
    let e = error_of(&mut c);
    assert!(!out.exists(), "{e}");
    let stray: Vec<String> = names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".atelier"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    e
}

#[test]
fn bad_clips_get_one_line_and_no_output() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Not a video.
    let text = d.join("notes.mp4");
    std::fs::write(&text, "not a video at all").unwrap();
    let e = refused(d, &text, None);
    assert!(e.contains("notes.mp4") && e.contains("not a video"), "{e}");
    // Truncated: a clip with its index first, cut in the middle of its frames.
    let whole = d.join("whole.mp4");
    let pattern = "-f lavfi -i testsrc=size=64x48:rate=10";
    ffmpeg(
        &format!("{pattern} -frames:v 6 -c:v libx264 -movflags +faststart"),
        &whole,
    );
    let bytes = std::fs::read(&whole).unwrap();
    let cut = d.join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = refused(d, &cut, None);
    assert!(e.contains("cut.mp4") && e.contains("truncated"), "{e}");
    // Zero frames.
    let zero = d.join("zero.nut");
    ffmpeg(&format!("{pattern} -frames:v 0 -c:v rawvideo"), &zero);
    let e = refused(d, &zero, None);
    assert!(e.contains("zero.nut"), "{e}");
    // A 100000×1 stream.
    let raw = d.join("row.raw");
    std::fs::write(&raw, vec![0u8; 300_000]).unwrap();
    let thin = d.join("thin.nut");
    let row = format!(
        "-f rawvideo -pix_fmt rgb24 -s 100000x1 -r 1 -i {}",
        raw.display()
    );
    ffmpeg(&format!("{row} -c:v rawvideo"), &thin);
    let e = refused(d, &thin, None);
    assert!(e.contains("thin.nut") && e.contains("100000x1"), "{e}");
    // No ffmpeg on PATH: the same one line whatever the clip.
    let input = clip(d, 2);
    let empty = d.join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let e = refused(d, &input, Some(empty.to_str().unwrap()));
    assert!(
        e.contains("ffprobe is not installed") && e.contains("apt-get install ffmpeg"),
        "{e}"
    );
}

/// A request that would take weeks is refused with a sentence, before any work.
#[test]
fn a_film_at_a_large_size_is_refused_unless_forced() {
    let t = tempfile::tempdir().unwrap();
    let film = t.path().join("film.mkv");
    // Two hours at 1 fps (a cheap stand-in for a long film: the count is what matters).
    let long = "-f lavfi -i color=size=32x18:rate=1:duration=7200";
    ffmpeg(&format!("{long} -c:v libx264 -preset ultrafast"), &film);
    let style = root().join("styles/436535.jpg");
    let args = |c: &mut Command| {
        c.args(["video", "--size", "1024", "--dry-run", "--style"])
            .arg(&style)
            .arg(&film);
    };
    let mut c = atelier_in(&t.path().join("data"));
    args(&mut c);
    let e = error_of(&mut c);
    assert!(
        e.contains("7200 frames") && e.contains("days") && e.contains("--force"),
        "{e}"
    );
    let mut c = atelier_in(&t.path().join("data"));
    args(&mut c);
    stdout_ok(c.arg("--force"));
}

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(data: &Path) -> Child {
    Child(crate::jobs::worker(data))
}

/// Frames are checkpoints: a worker killed after a frame leaves it whole,
/// and the next attempt neither redoes it nor loses it.
#[test]
fn a_killed_video_job_resumes_from_its_last_finished_frame() {
    use atelier::jobs::Outcome;
    use atelier::queue::{Status, Store};
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let input = clip(t.path(), 4);
    let style = root().join("styles/436535.jpg");
    let mut c = atelier_in(&data);
    c.args([
        "queue", "add", "video", "--size", "32", "--steps", "20", "--style",
    ])
    .arg(&style)
    .arg(&input);
    let out = stdout_ok(&mut c);
    let id: i64 = out
        .trim()
        .strip_prefix("queued run ")
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap();
    let store = Store::open(&data).unwrap();
    let frames = store.run_dir(id).join("frames");
    let first = frames.join("000001.png");
    let mut w = worker(&data);
    crate::util::wait_until("a first frame", std::time::Duration::from_secs(600), || {
        first.exists()
    });
    w.0.kill().unwrap(); // SIGKILL
    w.0.wait().unwrap();
    let before = std::fs::metadata(&first).unwrap();
    let done = names(&frames)
        .iter()
        .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
        .count();
    store.recover(120.0).unwrap();
    let status = worker(&data).0.wait().unwrap();
    assert!(status.success());
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    let Some(Outcome::Video(o)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(o.frames, 4);
    assert!(o.resumed >= done, "{} resumed, {done} were done", o.resumed);
    // The first frame is the same file, untouched.
    let after = std::fs::metadata(&first).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    let video = o.video.clone().expect("a video");
    assert_eq!(probe(&video), (4, "10/1".to_string(), true));
}

/// A video arriving in an inbox is stylized as a video, once.
#[test]
fn a_drop_folder_stylizes_an_arriving_video_once() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (inbox, out, data) = (d.join("inbox"), d.join("out"), d.join("data"));
    for p in [&inbox, &out, &data] {
        std::fs::create_dir_all(p).unwrap();
    }
    let config = crate::kinds::config(d, "model = \"irises\"");
    let log = d.join("watch.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut c = atelier_in(&data);
    c.arg("--config")
        .arg(&config)
        .args(["watch", "--device", "cpu"]);
    let _w = Child(
        c.stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    // Copied in under a temporary name, then renamed: only the whole file counts.
    let made = clip(d, 6);
    std::fs::copy(&made, inbox.join(".clip.mp4.part")).unwrap();
    std::fs::rename(inbox.join(".clip.mp4.part"), inbox.join("clip.mp4")).unwrap();
    let delivered = out.join("clip__irises.mp4");
    let start = std::time::Instant::now();
    while !delivered.exists() {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            start.elapsed().as_secs() < 300,
            "timed out waiting for the stylized video; the watcher said:\n{said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(probe(&delivered), (6, "10/1".to_string(), true));
    let store = atelier::queue::Store::open(&data).unwrap();
    let runs = store.list(&atelier::queue::Filter::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].kind(), "video");
}
