using Snn.Core.Native;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Snn.Core.Activations;

/// <summary>
/// The clip and (noisy) quantize-clip activations of Phase I (PAPER.md) as single autograd nodes:
/// one forward pass and one backward pass over memory (SIMD, in blocks over the cores torch uses)
/// instead of a chain of elementwise torch operations that each allocate a tensor and a graph node.
/// Values and gradients are those of the composite references
/// <see cref="ClipActivation.Functional.Clip"/> and
/// <see cref="QuantizeClipActivation.Functional.NoisyQuantizeClip(Tensor, Tensor, int, Tensor, QuantizeClipGradient)"/>,
/// with t = |theta|:
/// <list type="bullet">
/// <item>clip: y = min(max(x, 0), t), bit for bit. dL/dx = g for 0 &lt; x &lt; t, g / 2 at x = t, 0
/// elsewhere; dL/dtheta = sign(theta) * (sum of g over x &gt; t + sum of g / 2 over x = t). The halves at
/// x = t are torch.minimum's tie rule (the gradient is split between its equal arguments); ties have
/// measure zero but are kept so that the gradient equals the composite's everywhere.</item>
/// <item>QC_L: with r = x / t, u = clamp(r, 0, 1), q = floor(u L + 1/2) / L, level = q for a rounded
/// element and u for an unrounded one, y = t * level, bit for bit in float32 (same operation order).
/// Gradient: autograd's on PAPER.md's expression t * clip(STE(floor(r L + 1/2)) / L, 0, 1) in that
/// order (the rounding passed straight through, then the clip). A rounded element is "inside" when
/// a = floor(r L + 1/2) / L is in [0, 1] (r in [-1/(2L), 1 + 1/(2L))), an unrounded one when r is in
/// [0, 1]; dL/dx = g inside, 0 elsewhere; dL/dtheta = sign(theta) * sum of g * (level - [inside] r):
/// g * (q - r) for an element inside, g above, 0 below. With <see cref="QuantizeClipGradient.ClipThenRound"/>
/// a rounded element is inside when r is in [0, 1] (the gradient of t * clamp(r, 0, 1)); the dual-phase
/// default is <see cref="QuantizeClipGradient.RoundThenClip"/>.</item>
/// </list>
/// The composite's dL/dx is (g t) / t, which can differ from g by one rounding; the theta-gradient is
/// summed here in float64 per block, in block order, so it can differ from torch's float32 sum by rounding.
/// Inputs the kernels do not take (<see cref="Supports"/> false: float64, non-contiguous, non-CPU, a
/// threshold per neuron) go to the composite reference, so every method here accepts any input the
/// references accept.
/// </summary>
public static class FusedActivations
{
    /// <summary>2^16: the number of values of an element's rounding draw.</summary>
    private const double DrawRange = 1 << RoundingDraws.DrawBits;

    /// <summary>
    /// Whether the fused kernels take this input: x is a contiguous float32 CPU tensor with at most 2^32
    /// elements, and theta is one float32 CPU value (numel 1) with no more axes than x.
    /// </summary>
    /// <param name="input">x, any shape.</param>
    /// <param name="threshold">theta.</param>
    public static bool Supports(Tensor input, Tensor threshold) =>
        input.dtype == ScalarType.Float32
        && input.device_type == DeviceType.CPU
        && input.is_contiguous()
        && input.numel() <= (1L << 32)
        && threshold.dtype == ScalarType.Float32
        && threshold.device_type == DeviceType.CPU
        && threshold.numel() == 1
        && threshold.dim() <= input.dim();

    /// <summary>
    /// clip(x) = min(max(x, 0), |theta|) elementwise as one autograd node (gradients in the class summary).
    /// </summary>
    /// <param name="input">x, any shape and real values.</param>
    /// <param name="threshold">theta: one value (|theta| &gt; 0 is used) for the fused path; anything
    /// broadcastable to x goes to the composite reference.</param>
    public static Tensor Clip(Tensor input, Tensor threshold)
    {
        if (!Supports(input, threshold))
        {
            return ClipActivation.Functional.Clip(input, threshold);
        }

        if (!NeedsGraph(input, threshold))
        {
            var output = empty_like(input);
            FusedActivationKernels.ClipForward(input, output, Math.Abs(threshold.item<float>()));
            return output;
        }

        using var scope = NewDisposeScope();
        return ClipFunction.apply(input, threshold).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Exact QC_L(x) = |theta| * floor(clamp(x / |theta|, 0, 1) L + 1/2) / L with the
    /// straight-through gradient, as one autograd node; bit-identical in value to
    /// <see cref="QuantizeClipActivation.Functional.QuantizeClip"/>.
    /// </summary>
    /// <param name="input">x, any shape.</param>
    /// <param name="threshold">theta, |theta| &gt; 0 (see <see cref="Clip"/> for the accepted shapes).</param>
    /// <param name="levels">L &gt;= 1.</param>
    /// <param name="gradient">Where the straight-through rounding sits relative to the clip (values are the same).</param>
    /// <exception cref="ArgumentException">L &lt; 1.</exception>
    public static Tensor QuantizeClip(
        Tensor input, Tensor threshold, int levels, QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip) =>
        NoisyQuantizeClip(input, threshold, levels, 0.0, 0UL, gradient);

    /// <summary>
    /// Noisy quantization of Phase-I training: each element is rounded (level q) with probability 1 - p
    /// and left unrounded (level u, the clip) with probability p, independently. The rounding draws are
    /// a counter-based hash of one 64-bit seed taken from torch's default generator per call
    /// (<see cref="DrawSeed"/>), so a run is reproducible from torch.manual_seed and independent of
    /// thread scheduling, and the backward pass recomputes the mask instead of storing it.
    /// Input the kernels do not take (another device or dtype) runs the composite reference with the same
    /// seeded mask (<see cref="RoundingMask"/>), so a run draws the same masks on every device.
    /// </summary>
    /// <param name="input">x, any shape.</param>
    /// <param name="threshold">theta, |theta| &gt; 0.</param>
    /// <param name="levels">L &gt;= 1.</param>
    /// <param name="noiseProbability">p in [0, 1): the probability that an element stays unrounded.</param>
    /// <param name="gradient">Where the straight-through rounding sits relative to the clip (values are the same).</param>
    /// <exception cref="ArgumentException">L &lt; 1 or p outside [0, 1).</exception>
    public static Tensor NoisyQuantizeClip(
        Tensor input, Tensor threshold, int levels, double noiseProbability,
        QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip)
    {
        Guard.AtLeast(levels, 1, nameof(levels), "quantization levels L");
        Guard.UnitIntervalOpen(noiseProbability, nameof(noiseProbability));
        return NoisyQuantizeClip(input, threshold, levels, noiseProbability, noiseProbability > 0 ? DrawSeed() : 0UL, gradient);
    }

    /// <summary>
    /// Noisy quantization with the rounding draws of <paramref name="seed"/>: element i (row-major) is
    /// rounded exactly where <see cref="RoundingMask"/>(x.shape, p, seed) is 1. For input the kernels
    /// do not take, the composite reference is applied with that mask, so the result depends only on
    /// (x, theta, L, p, seed).
    /// </summary>
    /// <param name="input">x, any shape.</param>
    /// <param name="threshold">theta, |theta| &gt; 0.</param>
    /// <param name="levels">L &gt;= 1.</param>
    /// <param name="noiseProbability">p in [0, 1).</param>
    /// <param name="seed">Any 64-bit value; selects the rounding draws.</param>
    /// <param name="gradient">Where the straight-through rounding sits relative to the clip (values are the same).</param>
    /// <exception cref="ArgumentException">L &lt; 1 or p outside [0, 1).</exception>
    public static Tensor NoisyQuantizeClip(
        Tensor input, Tensor threshold, int levels, double noiseProbability, ulong seed,
        QuantizeClipGradient gradient = QuantizeClipGradient.RoundThenClip)
    {
        Guard.AtLeast(levels, 1, nameof(levels), "quantization levels L");
        Guard.UnitIntervalOpen(noiseProbability, nameof(noiseProbability));
        if (!Supports(input, threshold) && noiseProbability == 0)
        {
            return QuantizeClipActivation.Functional.QuantizeClip(input, threshold, levels);
        }

        if (!Supports(input, threshold))
        {
            using var fallback = NewDisposeScope();
            var mask = RoundingMask(input.shape, noiseProbability, seed).to(input.device);
            return QuantizeClipActivation.Functional.NoisyQuantizeClip(input, threshold, levels, mask.to_type(ScalarType.Bool), gradient)
                .MoveToOuterDisposeScope();
        }

        var cut = Cut(noiseProbability);
        if (!NeedsGraph(input, threshold))
        {
            var output = empty_like(input);
            FusedActivationKernels.QuantizeClipForward(input, output, Math.Abs(threshold.item<float>()), levels, cut, seed);
            return output;
        }

        using var scope = NewDisposeScope();
        return QuantizeClipFunction.apply(input, threshold, levels, cut, seed, gradient == QuantizeClipGradient.ClipThenRound)
            .MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One 64-bit seed from torch's default generator (two uniform 32-bit draws of torch.randint), so
    /// that torch.manual_seed fixes every later seed.
    /// </summary>
    public static ulong DrawSeed()
    {
        using var draws = randint(0L, 1L << 32, [2], dtype: ScalarType.Int64);
        var halves = draws.data<long>().ToArray();
        return ((ulong)halves[1] << 32) | (ulong)halves[0];
    }

    /// <summary>
    /// The rounding mask of noisy quantization for <paramref name="seed"/>: a float32 CPU tensor of the
    /// given shape holding 1 where element i (row-major) is rounded and 0 where it stays unrounded.
    /// Element i is rounded when its 16-bit draw h_i (one half of a 32-bit hash of (i, seed) that serves
    /// two elements of a group of 16, uniform on 0..2^16 - 1) is below round((1 - p) 2^16), so
    /// P(rounded) = 1 - p to within 2^-17: p is resolved in steps of 2^-16 (p &lt; 2^-17 rounds every
    /// element, as p = 0 does).
    /// </summary>
    /// <param name="shape">The shape of x (at most 2^32 elements).</param>
    /// <param name="noiseProbability">p in [0, 1).</param>
    /// <param name="seed">Any 64-bit value.</param>
    /// <exception cref="ArgumentException">p outside [0, 1) or more than 2^32 elements.</exception>
    public static Tensor RoundingMask(long[] shape, double noiseProbability, ulong seed)
    {
        Guard.UnitIntervalOpen(noiseProbability, nameof(noiseProbability));
        var mask = empty(shape, ScalarType.Float32);
        if (mask.numel() > (1L << 32))
        {
            mask.Dispose();
            throw new ArgumentException(
                $"{nameof(shape)} = [{string.Join(", ", shape)}] has more than 2^32 elements; the rounding draws index at most 2^32",
                nameof(shape));
        }

        RoundingDraws.RoundingMask(mask, Cut(noiseProbability), seed);
        return mask;
    }

    /// <summary>round((1 - p) 2^16): the draws below it round (p in steps of 2^-16).</summary>
    private static uint Cut(double noiseProbability) => (uint)Math.Round((1.0 - noiseProbability) * DrawRange);

    private static bool NeedsGraph(Tensor input, Tensor threshold) =>
        is_grad_enabled() && (input.requires_grad || threshold.requires_grad);

    private static float Sign(float theta) => theta > 0f ? 1f : theta < 0f ? -1f : 0f;

    /// <summary>The clip as a custom autograd function: inputs (x, theta); x is saved for the backward.</summary>
    private sealed class ClipFunction : SingleTensorFunction<ClipFunction>
    {
        public override string Name => "FusedClip";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var theta = ((Tensor)vars[1]).item<float>();
            ctx.save_for_backward([input]);
            ctx.save_data("theta", theta);
            ctx.save_data("shape", ((Tensor)vars[1]).shape);
            var output = empty_like(input);
            FusedActivationKernels.ClipForward(input, output, Math.Abs(theta));
            return output;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
        {
            var theta = (float)ctx.get_data("theta");
            using var scope = NewDisposeScope();
            var input = ctx.get_saved_variables()[0];
            var grad = grad_output.contiguous();
            var gradInput = empty_like(input);
            var sum = FusedActivationKernels.ClipBackward(input, grad, gradInput, Math.Abs(theta));
            var gradTheta = ThetaGradient(ctx, Sign(theta) * (float)sum);
            return [gradInput.MoveToOuterDisposeScope(), gradTheta.MoveToOuterDisposeScope()];
        }
    }

    /// <summary>
    /// Noisy QC_L as a custom autograd function: inputs (x, theta, L, cut, seed, clip first); x is saved and
    /// the rounding mask is recomputed from (seed, cut) in the backward.
    /// </summary>
    private sealed class QuantizeClipFunction : SingleTensorFunction<QuantizeClipFunction>
    {
        public override string Name => "FusedQuantizeClip";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var thresholdTensor = (Tensor)vars[1];
            var theta = thresholdTensor.item<float>();
            var (levels, cut, seed) = ((int)vars[2], (uint)vars[3], (ulong)vars[4]);
            ctx.save_for_backward([input]);
            ctx.save_data("clipFirst", (bool)vars[5]);
            ctx.save_data("theta", theta);
            ctx.save_data("shape", thresholdTensor.shape);
            ctx.save_data("levels", levels);
            ctx.save_data("cut", cut);
            ctx.save_data("seed", seed);
            var output = empty_like(input);
            FusedActivationKernels.QuantizeClipForward(input, output, Math.Abs(theta), levels, cut, seed);
            return output;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
        {
            var theta = (float)ctx.get_data("theta");
            var (levels, cut, seed) = ((int)ctx.get_data("levels"), (uint)ctx.get_data("cut"), (ulong)ctx.get_data("seed"));
            var clipFirst = (bool)ctx.get_data("clipFirst");
            using var scope = NewDisposeScope();
            var input = ctx.get_saved_variables()[0];
            var grad = grad_output.contiguous();
            var gradInput = empty_like(input);
            var sum = FusedActivationKernels.QuantizeClipBackward(input, grad, gradInput, Math.Abs(theta), levels, cut, seed, clipFirst);
            var gradTheta = ThetaGradient(ctx, Sign(theta) * (float)sum);
            return [gradInput.MoveToOuterDisposeScope(), gradTheta.MoveToOuterDisposeScope(), null!, null!, null!, null!];
        }
    }

    private static long[] ThresholdShape(AutogradContext ctx) => (long[])ctx.get_data("shape");

    /// <summary>dL/dtheta, a float32 tensor of theta's shape filled with <paramref name="value"/>.</summary>
    private static Tensor ThetaGradient(AutogradContext ctx, float value)
    {
        using var fill = value.ToScalar();
        return full(ThresholdShape(ctx), fill, ScalarType.Float32);
    }
}
