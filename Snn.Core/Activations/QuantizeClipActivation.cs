using Snn.Core.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Activations;

/// <summary>
/// Quantize-clip activation with half shift (PAPER.md), with a learnable threshold theta:
/// <code>QC_L(x) = |theta| * clip(floor(x * L / |theta| + 1/2) / L, 0, 1)</code>
/// In evaluation it computes QC_L exactly; its values are k * |theta| / L for k = 0..L.
/// In training it is the "noisy quantization" of Phase I: each activation is rounded with
/// probability 1 - p and left unrounded (plain clip) with probability p, a fresh Bernoulli mask
/// per call; rounding passes the gradient straight through (STE: d y / d x = 1 inside (0, |theta|),
/// 0 outside) and theta gets its gradient by autograd. With p = 0 training rounds every
/// activation (the QCFS activation). <see cref="Gradient"/> says where the straight-through rounding sits
/// relative to the clip in the gradient (<see cref="QuantizeClipGradient"/>; values are the same).
/// </summary>
public sealed class QuantizeClipActivation : nn.Module<Tensor, Tensor>
{
    private readonly Parameter threshold;

    /// <summary>Creates QC_L with threshold theta = <paramref name="initialThreshold"/>.</summary>
    /// <param name="levels">L &gt;= 1, the number of quantization steps (the target latency T in Phase I).</param>
    /// <param name="initialThreshold">Initial theta &gt; 0.</param>
    /// <param name="noiseProbability">p in [0, 1): the probability that an activation stays unrounded in training (paper: 0.1).</param>
    /// <param name="name">Module name.</param>
    /// <param name="gradient">Where the straight-through rounding sits relative to the clip in training's gradient:
    /// <see cref="QuantizeClipGradient.RoundThenClip"/> (PAPER.md's order and the QCFS code's, the default) or
    /// <see cref="QuantizeClipGradient.ClipThenRound"/> (the clip first).</param>
    /// <exception cref="ArgumentException">L &lt; 1, theta &lt;= 0, p outside [0, 1) or an undefined gradient order.</exception>
    public QuantizeClipActivation(
        int levels, double initialThreshold = 5.0, double noiseProbability = 0.0, string name = "qc",
        QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip)
        : base(name)
    {
        Levels = (int)Guard.AtLeast(levels, 1, nameof(levels), "quantization levels L");
        Guard.Positive(initialThreshold, nameof(initialThreshold));
        NoiseProbability = Guard.UnitIntervalOpen(noiseProbability, nameof(noiseProbability));
        if (!Enum.IsDefined(gradient))
        {
            throw new ArgumentException(
                $"{nameof(gradient)} = {(int)gradient} is not a {nameof(QuantizeClipGradient)}: expected RoundThenClip or ClipThenRound",
                nameof(gradient));
        }

        Gradient = gradient;
        threshold = nn.Parameter(tensor((float)initialThreshold));
        RegisterComponents();
    }

    /// <summary>L &gt;= 1, the number of quantization steps.</summary>
    public int Levels { get; }

    /// <summary>p in [0, 1): probability that an activation is left unrounded during training.</summary>
    public double NoiseProbability { get; }

    /// <summary>Where the straight-through rounding sits relative to the clip in the training gradient.</summary>
    public QuantizeClipGradient Gradient { get; }

    /// <summary>The learnable parameter theta (a scalar); the effective threshold is |theta|.</summary>
    public Parameter Threshold => threshold;

    /// <summary>The effective threshold |theta| &gt; 0 as a double.</summary>
    public double EffectiveThreshold => Math.Abs(threshold.item<float>());

    /// <summary>QC_L(x) in evaluation; noisy STE quantization in training.</summary>
    /// <param name="input">x, any shape.</param>
    /// <remarks>
    /// Float32 CPU input runs the fused single-node kernels of <see cref="FusedActivations"/> (same
    /// values, same gradients); other input runs the composite <see cref="Functional"/> forms.
    /// </remarks>
    public override Tensor forward(Tensor input) =>
        training
            ? FusedActivations.NoisyQuantizeClip(input, threshold, Levels, NoiseProbability, Gradient)
            : FusedActivations.QuantizeClip(input, threshold, Levels, Gradient);

    /// <summary>The stateless forms of the quantize-clip activation.</summary>
    public static class Functional
    {
        /// <summary>
        /// Exact QC_L(x) = |theta| * clip(floor(x L / |theta| + 1/2) / L, 0, 1): the L + 1 values
        /// k |theta| / L for k = 0..L (half steps round up), with |QC_L(x) - clip(x)| &lt;= |theta| / (2L).
        /// Straight-through gradient of that expression in its order (rounding passed straight through,
        /// then the clip): d y / d x = 1 where floor(x L / |theta| + 1/2) / L lies in [0, 1], i.e. for
        /// x / |theta| in [-1/(2L), 1 + 1/(2L)), 0 outside.
        /// </summary>
        /// <param name="input">x, any shape.</param>
        /// <param name="threshold">theta, a tensor broadcastable to x (a scalar per layer or one per neuron); |theta| is used and must be &gt; 0.</param>
        /// <param name="levels">L &gt;= 1.</param>
        /// <param name="gradient">Where the straight-through rounding sits relative to the clip; with
        /// <see cref="QuantizeClipGradient.ClipThenRound"/> d y / d x = 1 for x / |theta| in [0, 1], 0 outside.</param>
        public static Tensor QuantizeClip(
            Tensor input, Tensor threshold, int levels, QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip) =>
            NoisyQuantizeClip(input, threshold, levels, 0.0, gradient);

        /// <summary>
        /// Noisy quantization: with u = clip(x / |theta|, 0, 1) and q = floor(u L + 1/2) / L (the
        /// rounded level, k / L for an integer k in [0, L]), the value is
        /// <code>y = |theta| * (m q + (1 - m) u),   m ~ Bernoulli(1 - p) elementwise (m = 1 when p = 0)</code>
        /// so a rounded entry is exactly |theta| * q and an unrounded one is the clip. Gradients are autograd's
        /// on PAPER.md's expression |theta| * clip(floor(r L + 1/2) / L, 0, 1), r = x / |theta|, with the
        /// rounding passed straight through (STE) before the clip: for a rounded entry, with
        /// a = floor(r L + 1/2) / L, "inside" means a in [0, 1] (r in [-1/(2L), 1 + 1/(2L))); for an
        /// unrounded entry r in [0, 1]. Then d y / d x = 1 inside, 0 outside, and
        /// d y / d theta = sign(theta) * (level - r) inside, sign(theta) * level outside (1 above, 0 below).
        /// </summary>
        /// <param name="input">x, any shape.</param>
        /// <param name="threshold">theta, a tensor broadcastable to x (a scalar per layer or one per neuron); |theta| is used and must be &gt; 0.</param>
        /// <param name="levels">L &gt;= 1.</param>
        /// <param name="noiseProbability">p in [0, 1): the probability that an entry stays unrounded.</param>
        /// <param name="gradient">Where the straight-through rounding sits relative to the clip; with
        /// <see cref="QuantizeClipGradient.ClipThenRound"/> a rounded entry is inside for r in [0, 1], as an unrounded one.</param>
        /// <exception cref="ArgumentException">L &lt; 1 or p outside [0, 1).</exception>
        public static Tensor NoisyQuantizeClip(
            Tensor input, Tensor threshold, int levels, double noiseProbability,
            QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip)
        {
            Guard.AtLeast(levels, 1, nameof(levels), "quantization levels L");
            Guard.UnitIntervalOpen(noiseProbability, nameof(noiseProbability));

            // m ~ Bernoulli(1 - p): a uniform draw below 1 - p, one pass straight to a mask.
            return Compose(input, threshold, levels, noiseProbability > 0 ? level => Bernoulli(level, 1.0 - noiseProbability) : null, gradient);
        }

        /// <summary>
        /// Noisy quantization with a given rounding mask m: with u = clip(x / |theta|, 0, 1) and
        /// q = floor(u L + 1/2) / L, <code>y = |theta| * (m q + (1 - m) u)</code> with the gradients of
        /// <see cref="NoisyQuantizeClip(Tensor, Tensor, int, double, QuantizeClipGradient)"/> (the value is |theta| * level, the
        /// gradient autograd's on PAPER.md's expression with the rounding passed straight through).
        /// </summary>
        /// <param name="input">x, any shape.</param>
        /// <param name="threshold">theta, a tensor broadcastable to x; |theta| is used and must be &gt; 0.</param>
        /// <param name="levels">L &gt;= 1.</param>
        /// <param name="rounded">m, a bool tensor broadcastable to x: true where the entry is rounded; null rounds every entry.</param>
        /// <param name="gradient">Where the straight-through rounding sits relative to the clip.</param>
        /// <exception cref="ArgumentException">L &lt; 1.</exception>
        public static Tensor NoisyQuantizeClip(
            Tensor input, Tensor threshold, int levels, Tensor? rounded,
            QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip)
        {
            Guard.AtLeast(levels, 1, nameof(levels), "quantization levels L");
            return Compose(input, threshold, levels, rounded is null ? null : _ => rounded, gradient);
        }

        /// <summary>
        /// The composite: <paramref name="rounded"/> maps the rounded levels q to the mask m (null: m = 1).
        /// The value is |theta| * level exactly; the gradient is autograd's on PAPER.md's expression in its
        /// order, |theta| * clip(STE(floor(r L + 1/2)) / L, 0, 1) with r = x / |theta| for a rounded entry
        /// and |theta| * clip(r, 0, 1) for an unrounded one, carried by |theta| * (s - s.detach()) with
        /// s = r where the clip passes gradient (a = floor(r L + 1/2) / L in [0, 1], resp. r in [0, 1]), else 0.
        /// With <see cref="QuantizeClipGradient.ClipThenRound"/> a rounded entry's band is r in [0, 1] too.
        /// </summary>
        private static Tensor Compose(
            Tensor input, Tensor threshold, int levels, Func<Tensor, Tensor>? rounded, QuantizeClipGradient gradient)
        {
            using var scope = NewDisposeScope();
            var theta = threshold.abs();
            var r = input / theta;
            Tensor level, inside;
            using (no_grad())
            {
                using var l = levels.ToScalar();
                var a = r.mul(l).add_(Scalars.Half, Scalars.One).floor_().div_(l);
                level = a.clamp(Scalars.ZeroReal, Scalars.OneReal);
                var band = gradient == QuantizeClipGradient.ClipThenRound ? r : a;
                inside = band.ge(Scalars.ZeroReal).logical_and_(band.le(Scalars.OneReal));
                if (rounded is not null)
                {
                    var u = r.clamp(Scalars.ZeroReal, Scalars.OneReal);
                    var mask = rounded(level);
                    level = torch.where(mask, level, u);
                    inside = torch.where(mask, inside, r.ge(Scalars.ZeroReal).logical_and_(r.le(Scalars.OneReal)));
                }
            }

            var s = r * inside.to_type(r.dtype);

            // Value: |theta| * (level + 0) = |theta| * level exactly (s - s = 0); gradient: that of |theta| * s.
            return (theta * level.add(s - s.detach(), Scalars.One)).MoveToOuterDisposeScope();
        }

        /// <summary>m ~ Bernoulli(q) elementwise in the shape of <paramref name="like"/>: a uniform draw below q.</summary>
        private static Tensor Bernoulli(Tensor like, double q)
        {
            using var cut = q.ToScalar();
            return torch.rand_like(like).lt(cut);
        }
    }
}
