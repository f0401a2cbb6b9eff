/// Named tolerances: every comparison that is not exact says here why it may differ, and by how much.
module Snn.Core.Tests.Tolerances

/// float64 rounding of a T-step neuron run or a short chain of float64 operations, relative to the
/// magnitude of the numbers involved (theta + |v(0)| + sum |I(t)|): a few dozen roundings of 2^-53 each.
let float64Relative = 1e-12

/// float32 rounding of the same computations, relative to the same magnitude: a few dozen roundings of 2^-24.
let float32Relative = 1e-5

/// A neuron whose final potential lies within tieMargin * theta of 0 or theta sits on a rounding boundary of
/// QC_T: there the floor in QC_T is decided by rounding of z, not by the maths, so properties that are exact
/// in real arithmetic generate (or keep) cases away from that band.
let tieMargin = 1e-9

/// Step h of the central finite difference (f(theta + h) - f(theta - h)) / 2h, relative to theta.
let finiteDifferenceStep = 1e-4

/// Allowed gap between an autograd gradient and its central finite difference (float64, piecewise-linear f).
let finiteDifference = 1e-7

/// Two float64 sums of the same n terms added in different orders (e.g. a blocked SIMD loop and torch's
/// cascade sum), relative to the sum of the terms' magnitudes: each order's error is at most about
/// (its longest chain of additions) x 2^-53, a few hundred roundings for the kernels' chunked sums.
let float64Summation = 1e-12

/// A float32 loss of a few logits (a softmax, a log and a batch mean) against its float64 model: float32
/// rounding relative to the loss, and 1e-6 absolute for losses near 0.
let float32Loss: Expecto.Accuracy =
    { absolute = 1e-6
      relative = float32Relative }
