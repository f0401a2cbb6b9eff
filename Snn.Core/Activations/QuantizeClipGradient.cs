namespace Snn.Core.Activations;

/// <summary>
/// Where the straight-through rounding sits relative to the clip in the gradient of the quantize-clip
/// activation QC_L(x) = t * clip(floor(r L + 1/2) / L, 0, 1), r = x / t, t = |theta|. The values are the
/// same in both orders (the L + 1 levels k t / L); only the band in which gradient passes differs. With
/// g = dLoss/dy, q the rounded level and "inside" the band below:
/// dLoss/dx = g inside, 0 outside; dLoss/dtheta = sign(theta) * g * (q - r) inside, sign(theta) * g * q outside
/// (g above the band, 0 below it).
/// </summary>
public enum QuantizeClipGradient
{
    /// <summary>
    /// PAPER.md's expression in its order, floor passed straight through and then clipped: inside means
    /// a = floor(r L + 1/2) / L in [0, 1], i.e. r in [-1/(2L), 1 + 1/(2L)), half a step beyond each end of
    /// [0, 1]. The dual-phase method's noisy QC and the QCFS baseline's QC use this order (the QCFS code's).
    /// </summary>
    RoundThenClip = 0,

    /// <summary>
    /// The clip first, then the straight-through rounding: t * floor(clamp(r, 0, 1) L + 1/2) / L, so the
    /// gradient is that of t * clamp(r, 0, 1): inside means r in [0, 1] (exactly the clip activation's band).
    /// Below 0 no gradient reaches x or theta, and above 1 the unit counts as saturated (dLoss/dtheta = g).
    /// No pipeline step uses it: the QCFS code's MyFloor rounds first, and the QCFS baseline trained in
    /// this order kept its thresholds near their initial 8 (fmnist-vgg, first 100 steps of the bench recipe:
    /// 7.57 to 7.84 against 6.98 to 7.57 rounding first, the same in a PyTorch port of MyFloor in each
    /// order), so its converted network was at chance at T = 1 (issue 16).
    /// </summary>
    ClipThenRound = 1,
}
