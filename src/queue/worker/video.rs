//! The worker's arm for the `video` kind: frames into the run folder's
//! `frames/` (each one a checkpoint: a run taken up again after a stop or a
//! crash skips the frames already there), then the video beside them.

use std::sync::atomic::AtomicBool;

use super::kinds::{ended, fail};
use super::sink::{Recorded, Step};
use super::{Ended, Model, Worker, WorkerEvent};
use crate::engine::infra::image_io::to_tensor;
use crate::engine::infra::memory;
use crate::engine::video::Clip;
use crate::engine::Error;
use crate::jobs::apply::run::Network;
use crate::jobs::video::run::{encode, run as video_run, Stylizer};
use crate::jobs::video::{Method, Spec, FRAMES};
use crate::jobs::{self, Outcome, Progress};
use crate::queue::run::Run;

impl Worker {
    pub(super) fn perform_video(
        &mut self,
        run: &Run,
        spec: &Spec,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let files = self.store.files(run.id);
        let frames = files.dir.join(FRAMES);
        std::fs::create_dir_all(&frames).map_err(|e| fail(Error::io(&frames, e)))?;
        let device = self.config.device;
        let clip = Clip::open(&spec.input, spec.pixel_limit()).map_err(fail)?;
        let result = match &spec.method {
            Method::Gatys(g) => {
                // The memory guard of a stylize run of a frame's size.
                let (w, h) = spec.frame_size(clip.info());
                let available = self.free_memory.or_else(|| memory::available_bytes(device));
                memory::check_against(g, w, h, device, available).map_err(fail)?;
                let vgg = self
                    .models
                    .take_vgg(&self.config, g.pooling)
                    .map_err(fail)?;
                let stylizer = Stylizer::gatys(&vgg.1, g);
                let mut sink = self.run_sink(run, stop, events, Progress::Video, 1, 0);
                let r =
                    stylizer.and_then(|s| video_run(spec, &clip, &s, &frames, device, &mut sink));
                sink.flush();
                let sink_ended = sink.ended.take();
                self.models.put_back(vgg);
                r.map_err(|e| ended(sink_ended, e))
            }
            Method::Model(m) => {
                let model = self.take_model(m)?;
                let net = match &model.1 {
                    Model::Fast(n) => Ok(Network::Fast(n)),
                    Model::Arb(n) => Ok(Network::Arbitrary(n)),
                    Model::Vgg(_) => Err(Error::Torch("the model was not loaded".into())),
                };
                let stylizer = net.and_then(|n| Stylizer::model(n, m, device));
                let mut sink = self.run_sink(run, stop, events, Progress::Video, 1, 0);
                let r =
                    stylizer.and_then(|s| video_run(spec, &clip, &s, &frames, device, &mut sink));
                sink.flush();
                let sink_ended = sink.ended.take();
                self.models.model = Some(model);
                r.map_err(|e| ended(sink_ended, e))
            }
        };
        let (mut outcome, last): (jobs::video::Outcome, _) = result?;
        if let Some(name) = spec.video_name() {
            let out = files.dir.join(name);
            encode(spec, &clip, &frames, &out, true).map_err(fail)?;
            outcome.video = Some(out);
        }
        let t = to_tensor(&last, tch::Device::Cpu).map_err(fail)?;
        Ok((t, Outcome::Video(outcome)))
    }
}

/// A frame is the step the store records.
impl Recorded for jobs::video::Progress {
    type Shown = Self;
    fn step(&self) -> Option<Step> {
        Some(Step {
            step: self.frame as i64,
            series: Vec::new(),
            seconds: self.elapsed.as_secs_f64(),
        })
    }
    fn shown(&self, _: i64) -> Option<Self> {
        Some(self.clone())
    }
}
