//! The loop every trainable network shares (TransformerNet, CIN and MSG-Net
//! here; the AdaIN and WCT decoders in `arbitrary::train`): batches drawn
//! from (seed, iteration), the weighted loss terms summed, Adam with its
//! state in the open, progress and previews through the one [`Sink`],
//! checkpoints at their cadence and on a stop, and a resume that continues
//! on the same trajectory. A kind brings only its network and its losses, as
//! a [`Trainee`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::dataset::Dataset;
use super::safetensors_file::{self as file, blob, model_err, write_atomic, Blob, Metadata, Named};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{
    load_rgb, resize_longer_side, to_tensor, DEFAULT_PIXEL_LIMIT,
};
use crate::engine::infra::sink::Sink;

/// Reported after every iteration.
#[derive(Clone, Debug, Serialize)]
pub struct TrainProgress {
    /// Iterations done (1-based).
    pub iteration: u64,
    pub of: u64,
    /// The weighted loss terms by name, and their `total`.
    pub losses: BTreeMap<String, f64>,
    pub images_per_second: f64,
    /// Training time, resumed runs included.
    pub elapsed: Duration,
}

/// What a kind's network does in the loop.
pub(crate) trait Trainee {
    /// The run's settings: saved in checkpoints, compared on resume.
    type Spec: Serialize + DeserializeOwned + Clone;
    /// The weighted loss terms of iteration `it` (0-based), by name, in
    /// the order they are summed into the total.
    fn losses(&mut self, it: u64) -> Result<Vec<(&'static str, Tensor)>>;
    /// Between the backward pass and the optimiser's step.
    fn after_backward(&self) -> Result<()> {
        Ok(())
    }
    /// The preview photo through the network as it is now.
    fn preview(&self) -> Result<RgbImage>;
    /// The model's metadata, which a checkpoint carries too.
    fn metadata(&self) -> Result<Metadata>;
    /// The model tensors a checkpoint holds (of which `params` train).
    fn checkpoint_tensors(&self, params: &[(String, Tensor)]) -> Result<Vec<(String, Blob)>>;
    /// Puts a checkpoint's model tensors back.
    fn restore(
        &self,
        tensors: Vec<(String, Tensor)>,
        params: &[(String, Tensor)],
        path: &Path,
    ) -> Result<()>;
}

/// How often and how fast a run goes, from its spec.
pub(crate) struct Schedule {
    pub iterations: u64,
    pub batch: usize,
    pub checkpoint_every: u64,
    /// 0: no previews.
    pub preview_every: u64,
    /// At iteration `it` (0-based) the step is `lr / (1 + lr_decay · it)`.
    pub lr: f64,
    pub lr_decay: f64,
}

impl Schedule {
    /// From a spec's `(iterations, checkpoint_every, preview_every)`, batch
    /// and `(lr, lr_decay)`.
    pub(crate) fn new(
        (iterations, checkpoint_every, preview_every): (u64, u64, u64),
        batch: usize,
        (lr, lr_decay): (f64, f64),
    ) -> Self {
        Self {
            iterations,
            batch,
            checkpoint_every,
            preview_every,
            lr,
            lr_decay,
        }
    }
}

/// How a kind's checkpoints are told from other safetensors files.
pub(crate) struct CheckpointKind {
    /// The metadata key holding the [`Record`].
    pub key: &'static str,
    /// Why a file without that key is refused.
    pub missing: &'static str,
    /// A check of the metadata before the key is looked at.
    pub header: fn(&Metadata) -> std::result::Result<(), &'static str>,
}

/// What a checkpoint records beside its tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record<S> {
    pub iteration: u64,
    pub spec: S,
    pub seconds: f64,
    pub losses: BTreeMap<String, f64>,
}

/// A finished run.
pub(crate) struct Finished {
    pub iterations: u64,
    pub losses: BTreeMap<String, f64>,
    /// Training time, resumed runs included.
    pub seconds: f64,
}

/// The checks every training loop's settings share: the crop `size` a
/// multiple of `multiple` (at least 16); batch, iterations and checkpoint
/// interval at least 1; each named weight a number ≥ 0; the learning rate > 0.
pub(crate) fn check_loop(
    (size, multiple): (u32, u32),
    counts: [u64; 3],
    weights: &[(&'static str, f64)],
    lr: f64,
) -> Result<()> {
    if size < 16 || size % multiple != 0 {
        return Err(Error::invalid(
            "size",
            format!("{size} (a multiple of {multiple}, at least 16)"),
        ));
    }
    if counts.contains(&0) {
        return Err(Error::invalid(
            "batch/iterations/checkpoint-every",
            "must be at least 1",
        ));
    }
    for &(name, v) in weights {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::invalid(name, format!("{v} (a number ≥ 0)")));
        }
    }
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::invalid("lr", format!("{lr} (a number > 0)")));
    }
    Ok(())
}

/// The photo previews show: `preview` or the dataset's first image, its
/// longer side `size`.
pub(crate) fn preview_photo(
    preview: Option<&Path>,
    dataset: &Dataset,
    size: u32,
) -> Result<RgbImage> {
    let photo = load_rgb(
        preview.unwrap_or(dataset.files[0].as_path()),
        DEFAULT_PIXEL_LIMIT,
    )?;
    Ok(resize_longer_side(&photo, size))
}

/// Whether a run with settings `now` (of `iterations` in all) can continue
/// a checkpoint made with `then` at `iteration`: the same settings but for
/// the iteration count and the checkpoint and preview intervals, and not past
/// its end already. The refusal names each setting that differs. Shared by
/// every training loop (their specs serialise to objects).
pub(crate) fn check_resumable<T: Serialize>(
    path: &Path,
    (then, iteration): (&T, u64),
    (now, iterations): (&T, u64),
) -> Result<()> {
    const MAY_CHANGE: [&str; 3] = ["iterations", "checkpoint_every", "preview_every"];
    let object = |t: &T| match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (object(then), object(now));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let show = |v: Option<&serde_json::Value>| v.map_or("none".to_string(), |v| v.to_string());
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| !MAY_CHANGE.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} then, {} now", show(a.get(k)), show(b.get(k))))
        .collect();
    if !changed.is_empty() {
        return Err(model_err(
            path,
            format!(
                "made with other training settings ({}); pass the same ones, or start a new run",
                changed.join("; ")
            ),
        ));
    }
    if iteration > iterations {
        return Err(model_err(
            path,
            format!(
                "at iteration {iteration}, past --iterations {iterations}: pass --iterations {iteration} or more"
            ),
        ));
    }
    Ok(())
}

/// A checkpoint of `kind`: its record and its tensors (as f32 on the CPU).
pub(crate) fn read_checkpoint<S: DeserializeOwned>(
    path: &Path,
    kind: &CheckpointKind,
) -> Result<(Record<S>, Named)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (st, meta) = file::open(path, &bytes, "checkpoint")?;
    (kind.header)(&meta).map_err(|reason| model_err(path, reason))?;
    let record = file::json_of(path, &meta, kind.key, kind.missing)?;
    Ok((record, file::tensors_of(path, &st)?))
}

/// The record of the checkpoint at `path`, once a run of `spec` (of
/// `iterations` in all) is known to be able to continue it.
pub(crate) fn resumable<S: Serialize + DeserializeOwned>(
    path: &Path,
    kind: &CheckpointKind,
    (spec, iterations): (&S, u64),
) -> Result<Record<S>> {
    let (record, _) = read_checkpoint::<S>(path, kind)?;
    check_resumable(path, (&record.spec, record.iteration), (spec, iterations))?;
    Ok(record)
}

/// Adam (Kingma & Ba) with its state in the open, so checkpoints hold it.
pub(crate) struct Adam {
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    /// Over `params`, in name order (so checkpoints list them alike).
    pub(crate) fn new(mut params: Vec<(String, Tensor)>) -> Result<Self> {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |params: &[(String, Tensor)]| {
            params
                .iter()
                .map(|(_, p)| p.f_zeros_like())
                .collect::<Result<Vec<_>, _>>()
        };
        let (m, v) = (zeros(&params)?, zeros(&params)?);
        Ok(Self { params, m, v })
    }

    /// One step number `t` (1-based) at `lr`, then zeroes the gradients.
    fn step(&mut self, t: u64, lr: f64) -> Result<()> {
        let bc1 = 1.0 - BETA1.powf(t as f64);
        let bc2 = 1.0 - BETA2.powf(t as f64);
        tch::no_grad(|| -> Result<()> {
            for (i, (_, p)) in self.params.iter().enumerate() {
                let g = p.f_grad()?;
                if !g.defined() {
                    continue;
                }
                let _ = self.m[i]
                    .f_mul_scalar_(BETA1)?
                    .f_add_(&g.f_mul_scalar(1.0 - BETA1)?)?;
                let _ = self.v[i]
                    .f_mul_scalar_(BETA2)?
                    .f_add_(&g.f_square()?.f_mul_scalar(1.0 - BETA2)?)?;
                let denom = self.v[i].f_div_scalar(bc2)?.f_sqrt()?.f_add_scalar(EPS)?;
                let upd = self.m[i].f_div(&denom)?.f_mul_scalar(lr / bc1)?;
                let _ = p.shallow_clone().f_sub_(&upd)?;
                let _ = g.shallow_clone().f_zero_()?;
            }
            Ok(())
        })
    }

    /// The moments as checkpoint tensors (`adam.m.NAME`, `adam.v.NAME`).
    fn blobs(&self) -> Result<Vec<(String, Blob)>> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("adam.m.{name}"), blob(&self.m[i], Kind::Float)?));
            out.push((format!("adam.v.{name}"), blob(&self.v[i], Kind::Float)?));
        }
        Ok(out)
    }

    /// Takes the moments from a checkpoint's tensors.
    fn restore(&mut self, tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, slot) in [("adam.m.", &mut self.m[i]), ("adam.v.", &mut self.v[i])] {
                let t = tensors
                    .get(&format!("{prefix}{name}"))
                    .ok_or_else(|| model_err(path, format!("Adam state of {name} missing")))?;
                *slot = t.f_to_device(p.device())?;
            }
        }
        Ok(())
    }
}

/// Trains `net` per `schedule` from `adam`'s parameters, writing checkpoints
/// of `kind` to `checkpoint`; continues from the checkpoint `resume` when
/// given. A stop from the sink writes a checkpoint (none when asked at a
/// checkpoint) and returns `Error::Cancelled`.
pub(crate) fn run<T: Trainee>(
    net: &mut T,
    spec: &T::Spec,
    schedule: &Schedule,
    mut adam: Adam,
    (checkpoint, kind): (&Path, &CheckpointKind),
    resume: Option<&Path>,
    sink: &mut dyn Sink<TrainProgress>,
) -> Result<Finished> {
    let (mut start, mut prior_seconds, mut last) = (0u64, 0.0f64, BTreeMap::new());
    if let Some(path) = resume {
        let (record, tensors) = read_checkpoint::<T::Spec>(path, kind)?;
        check_resumable(
            path,
            (&record.spec, record.iteration),
            (spec, schedule.iterations),
        )?;
        let (mut model, mut rest) = (Vec::new(), HashMap::new());
        for (k, t) in tensors {
            match k.strip_prefix("model.") {
                Some(n) => model.push((n.to_string(), t)),
                None => {
                    rest.insert(k, t);
                }
            }
        }
        net.restore(model, &adam.params, path)?;
        adam.restore(&rest, path)?;
        start = record.iteration;
        prior_seconds = record.seconds;
        last = record.losses;
    }

    let save = |net: &T, it: u64, seconds: f64, losses: &BTreeMap<String, f64>, adam: &Adam| {
        let mut blobs: Vec<(String, Blob)> = net
            .checkpoint_tensors(&adam.params)?
            .into_iter()
            .map(|(k, b)| (format!("model.{k}"), b))
            .collect();
        blobs.extend(adam.blobs()?);
        let record = Record {
            iteration: it,
            spec: spec.clone(),
            seconds,
            losses: losses.clone(),
        };
        let mut meta = net.metadata()?;
        meta.insert(
            kind.key.into(),
            serde_json::to_string(&record)
                .map_err(|e| Error::invalid("checkpoint", e.to_string()))?,
        );
        write_atomic(checkpoint, &blobs, meta, true)
    };

    let t0 = Instant::now();
    let mut it = start;
    while it < schedule.iterations {
        let terms = net.losses(it)?;
        let mut total: Option<Tensor> = None;
        for (_, t) in &terms {
            total = Some(match total {
                Some(sum) => sum.f_add(t)?,
                None => t.shallow_clone(),
            });
        }
        let total = total.ok_or_else(|| Error::invalid("losses", "none"))?;
        let total_val = total.f_double_value(&[])?;
        if !total_val.is_finite() {
            return Err(Error::Diverged(format!(
                "at iteration {}: loss {total_val}",
                it + 1
            )));
        }
        total.f_backward()?;
        net.after_backward()?;
        adam.step(it + 1, schedule.lr / (1.0 + schedule.lr_decay * it as f64))?;
        it += 1;
        last = BTreeMap::new();
        for (k, v) in &terms {
            last.insert(k.to_string(), v.f_double_value(&[])?);
        }
        last.insert("total".to_string(), total_val);
        let run_secs = t0.elapsed().as_secs_f64();
        let elapsed = prior_seconds + run_secs;
        let progress = TrainProgress {
            iteration: it,
            of: schedule.iterations,
            losses: last.clone(),
            images_per_second: ((it - start) as f64 * schedule.batch as f64) / run_secs.max(1e-9),
            elapsed: Duration::from_secs_f64(elapsed),
        };
        let flow = report(sink, &progress, schedule.preview_every, || net.preview())?;
        end_iteration(
            sink,
            (it, schedule.iterations, schedule.checkpoint_every),
            flow,
            checkpoint,
            || save(net, it, elapsed, &last, &adam),
        )?;
    }
    Ok(Finished {
        iterations: it,
        losses: last,
        seconds: prior_seconds + t0.elapsed().as_secs_f64(),
    })
}

/// What a training loop tells its [`Sink`] at iteration `p.iteration`: its
/// progress, then its preview when one is due (every `preview_every`) and
/// the sink did not ask to stop.
fn report(
    sink: &mut dyn Sink<TrainProgress>,
    p: &TrainProgress,
    preview_every: u64,
    preview: impl FnOnce() -> Result<RgbImage>,
) -> Result<Flow> {
    let flow = sink.progress(p)?;
    if flow == Flow::Stop || preview_every == 0 || p.iteration % preview_every != 0 {
        return Ok(flow);
    }
    let img = to_tensor(&preview()?, tch::Device::Cpu)?;
    sink.preview(p.iteration as usize, &img)
}

/// The end of iteration `it` of `of`: a checkpoint when one is due (every
/// `every`, at the last iteration, and on a stop, so the trained weights are
/// on disk to resume from), then `Error::Cancelled` if the sink asked to
/// stop. A stop asked at the checkpoint itself (the run was taken over or
/// cancelled) ends the loop there: no further checkpoint, no model.
fn end_iteration(
    sink: &mut dyn Sink<TrainProgress>,
    (it, of, every): (u64, u64, u64),
    flow: Flow,
    checkpoint: &Path,
    save: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if it % every.max(1) == 0 || it >= of || flow == Flow::Stop {
        save()?;
        sink.checkpoint(it as usize, checkpoint)?.or_cancel()?;
    }
    flow.or_cancel()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn;

    /// A network of three numbers pulled towards a target that moves with
    /// the iteration: the loop's bookkeeping without a real network.
    struct Toy {
        vs: nn::VarStore,
        w: Tensor,
    }

    impl Toy {
        fn new() -> Self {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let w = vs.root().zeros("w", &[3]);
            Self { vs, w }
        }
    }

    #[derive(Clone, Serialize, Deserialize)]
    struct ToySpec {
        iterations: u64,
        seed: u64,
    }

    impl Trainee for Toy {
        type Spec = ToySpec;
        fn losses(&mut self, it: u64) -> Result<Vec<(&'static str, Tensor)>> {
            let target = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).f_mul_scalar(it as f64)?;
            let fit = self.w.f_sub(&target)?.f_square()?.f_sum(Kind::Float)?;
            let size = self.w.f_square()?.f_sum(Kind::Float)?.f_mul_scalar(0.1)?;
            Ok(vec![("fit", fit), ("size", size)])
        }
        fn preview(&self) -> Result<RgbImage> {
            Ok(RgbImage::new(1, 1))
        }
        fn metadata(&self) -> Result<Metadata> {
            file::metadata("toy", &serde_json::json!({}), &[])
        }
        fn checkpoint_tensors(&self, params: &[(String, Tensor)]) -> Result<Vec<(String, Blob)>> {
            params
                .iter()
                .map(|(k, t)| Ok((k.clone(), blob(t, Kind::Float)?)))
                .collect()
        }
        fn restore(&self, tensors: Named, _: &[(String, Tensor)], path: &Path) -> Result<()> {
            file::copy_into(&self.vs, tensors, path)
        }
    }

    const KIND: CheckpointKind = CheckpointKind {
        key: "toy_checkpoint",
        missing: "not a toy checkpoint",
        header: |_| Ok(()),
    };

    /// Records what the loop reports; stops after iteration `stop_at`.
    #[derive(Default)]
    struct Log {
        stop_at: Option<u64>,
        progress: Vec<u64>,
        previews: Vec<usize>,
        checkpoints: Vec<usize>,
    }

    impl Sink<TrainProgress> for Log {
        fn progress(&mut self, p: &TrainProgress) -> Result<Flow> {
            self.progress.push(p.iteration);
            Ok(match self.stop_at {
                Some(s) if p.iteration >= s => Flow::Stop,
                _ => Flow::Continue,
            })
        }
        fn preview(&mut self, step: usize, _: &Tensor) -> Result<Flow> {
            self.previews.push(step);
            Ok(Flow::Continue)
        }
        fn checkpoint(&mut self, step: usize, _: &Path) -> Result<Flow> {
            self.checkpoints.push(step);
            Ok(Flow::Continue)
        }
    }

    fn train(ck: &Path, resume: bool, log: &mut Log) -> (Toy, Result<Finished>) {
        let mut toy = Toy::new();
        let spec = ToySpec {
            iterations: 6,
            seed: 1,
        };
        let schedule = Schedule::new((6, 2, 3), 1, (0.1, 0.01));
        let adam = Adam::new(toy.vs.variables().into_iter().collect()).unwrap();
        let r = run(
            &mut toy,
            &spec,
            &schedule,
            adam,
            (ck, &KIND),
            resume.then_some(ck),
            log,
        );
        (toy, r)
    }

    #[test]
    fn a_stop_keeps_a_checkpoint_and_the_resumed_run_ends_where_an_uninterrupted_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.safetensors");
        let mut log = Log::default();
        let (a, done) = train(&whole, false, &mut log);
        let done = done.unwrap();
        assert_eq!(log.progress, [1, 2, 3, 4, 5, 6]);
        assert_eq!(log.checkpoints, [2, 4, 6], "every 2 and at the end");
        assert_eq!(log.previews, [3, 6]);
        assert_eq!(done.iterations, 6);
        let sum = done.losses["fit"] + done.losses["size"];
        assert!((done.losses["total"] - sum).abs() <= 1e-6 * sum.abs());

        let cut = dir.path().join("cut.safetensors");
        let mut log = Log {
            stop_at: Some(3),
            ..Log::default()
        };
        let (_, stopped) = train(&cut, false, &mut log);
        assert!(matches!(stopped, Err(Error::Cancelled)));
        assert_eq!(log.checkpoints, [2, 3], "a stop writes a checkpoint");
        let (record, _) = read_checkpoint::<ToySpec>(&cut, &KIND).unwrap();
        assert_eq!(record.iteration, 3);

        let mut log = Log::default();
        let (b, resumed) = train(&cut, true, &mut log);
        let resumed = resumed.unwrap();
        assert_eq!(log.progress, [4, 5, 6], "it goes on from the checkpoint");
        assert!(a.w.equal(&b.w), "{:?} vs {:?}", a.w, b.w);
        assert_eq!(resumed.losses, done.losses);
    }

    #[test]
    fn another_kinds_file_or_other_settings_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck.safetensors");
        train(&ck, false, &mut Log::default()).1.unwrap();
        let other = CheckpointKind {
            key: "other_checkpoint",
            missing: "not an other checkpoint",
            header: |_| Ok(()),
        };
        let e = read_checkpoint::<ToySpec>(&ck, &other).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!("model {}: not an other checkpoint", ck.display())
        );
        let spec = ToySpec {
            iterations: 6,
            seed: 2,
        };
        let e = resumable(&ck, &KIND, (&spec, 6)).err().unwrap().to_string();
        assert!(e.contains("seed 1 then, 2 now"), "{e}");
        let spec = ToySpec {
            iterations: 4,
            seed: 1,
        };
        let e = resumable(&ck, &KIND, (&spec, 4)).err().unwrap().to_string();
        assert!(e.contains("at iteration 6, past --iterations 4"), "{e}");
    }
}
