//! Losses against values worked out by hand.

use atelier::engine::nets::losses::{content_loss, gram, gram_term, style_loss, total_variation};
use atelier::engine::nets::vgg::channels_last;
use tch::{Kind, Tensor};

fn t(values: &[f32], shape: &[i64]) -> Tensor {
    Tensor::from_slice(values).view(shape)
}

fn value(x: &Tensor) -> f64 {
    x.to_kind(Kind::Double).double_value(&[])
}

#[test]
fn gram_is_f_ft_over_chw() {
    // Channel 0 = [1,2,3,4], channel 1 = [0,1,0,-1]; C·H·W = 8.
    // F·Fᵀ = [[30, -2], [-2, 2]] → / 8 = [[3.75, -0.25], [-0.25, 0.25]].
    let f = t(&[1., 2., 3., 4., 0., 1., 0., -1.], &[1, 2, 2, 2]);
    let g = gram(&f).unwrap();
    assert_eq!(g.size(), vec![2, 2]);
    let got: Vec<f64> = Vec::try_from(g.to_kind(Kind::Double).view([-1])).unwrap();
    assert_eq!(got, vec![3.75, -0.25, -0.25, 0.25]);
}

#[test]
fn content_loss_is_mean_squared_error() {
    // Differences 0,1,2,3 → (0+1+4+9)/4 = 3.5.
    let a = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]);
    let b = t(&[1., 1., 1., 1.], &[1, 1, 2, 2]);
    assert_eq!(value(&content_loss(&a, &b).unwrap()), 3.5);
}

#[test]
fn style_loss_is_mse_between_grams() {
    // Gram above against zeros: (3.75² + 2·0.25² + 0.25²) / 4 = 3.5625.
    let f = t(&[1., 2., 3., 4., 0., 1., 0., -1.], &[1, 2, 2, 2]);
    let g = gram(&f).unwrap();
    let zero = Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu));
    assert_eq!(value(&style_loss(&g, &zero).unwrap()), 3.5625);
}

#[test]
fn total_variation_sums_absolute_neighbour_differences() {
    // [[1,2,4],[0,0,0]]: horizontal |1|+|2|+0+0 = 3, vertical 1+2+4 = 7 → 10.
    let img = t(&[1., 2., 4., 0., 0., 0.], &[1, 1, 2, 3]);
    assert_eq!(value(&total_variation(&img).unwrap()), 10.0);
}

#[test]
fn shape_mismatches_are_errors_not_broadcasts() {
    let a = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]);
    let b = t(&[1., 2.], &[1, 1, 1, 2]);
    assert!(content_loss(&a, &b).is_err());
    assert!(style_loss(&a.view([2, 2]), &b.view([1, 2])).is_err());
    assert!(gram(&a.view([4])).is_err());
}

#[test]
fn gram_term_has_the_value_and_gradient_of_the_autograd_style_loss() {
    // The closed-form gradient must equal what autograd gives for
    // weight · mse(gram(F), A), on a feature map with unequal C, H, W.
    tch::manual_seed(3);
    let f0 = Tensor::rand([1, 5, 4, 3], (Kind::Float, tch::Device::Cpu));
    let target = gram(&Tensor::rand([1, 5, 4, 3], (Kind::Float, tch::Device::Cpu))).unwrap();
    let weight = 7.5;

    let f = f0.copy().requires_grad_(true);
    let reference = style_loss(&gram(&f).unwrap(), &target).unwrap() * weight;
    reference.backward();
    let want = f.grad();

    let f = f0.copy().requires_grad_(true);
    let (value_, surrogate) = gram_term(&f, &target, weight).unwrap();
    surrogate.backward();
    let got = f.grad();

    assert!((value(&value_) - value(&reference)).abs() <= 1e-6 * value(&reference).abs());
    assert!(!value_.requires_grad(), "the value carries no graph");
    let err = value(&(&got - &want).abs().max()) / value(&want.abs().max());
    assert!(err < 1e-5, "relative gradient error {err}");
    // A target of the wrong size is an error, as for style_loss.
    assert!(gram_term(
        &f,
        &Tensor::zeros([4, 4], (Kind::Float, tch::Device::Cpu)),
        1.0
    )
    .is_err());
}

#[test]
fn gram_and_its_gradient_do_not_depend_on_the_memory_layout() {
    // The network runs channels-last on the CPU; the Gram and the closed-form
    // gradient read those feature maps through an [H·W, C] view.
    tch::manual_seed(4);
    let f0 = Tensor::rand([1, 6, 5, 4], (Kind::Float, tch::Device::Cpu));
    let nhwc = channels_last(&f0).unwrap();
    assert!(
        !nhwc.is_contiguous(),
        "the test needs a channels-last tensor"
    );
    let close =
        |a: &Tensor, b: &Tensor| value(&(a - b).abs().max()) <= 1e-6 * value(&b.abs().max());
    assert!(close(&gram(&nhwc).unwrap(), &gram(&f0).unwrap()));

    let target = gram(&Tensor::rand([1, 6, 5, 4], (Kind::Float, tch::Device::Cpu))).unwrap();
    let grad_of = |f: Tensor| {
        let f = f.detach().requires_grad_(true);
        let (v, surrogate) = gram_term(&f, &target, 2.0).unwrap();
        surrogate.backward();
        (value(&v), f.grad())
    };
    let (v1, g1) = grad_of(f0.copy());
    let (v2, g2) = grad_of(nhwc);
    assert!((v1 - v2).abs() <= 1e-6 * v1.abs());
    assert!(close(&g2, &g1), "gradient differs in channels-last");
}
