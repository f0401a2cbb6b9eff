using Snn.Core.Energy;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>The linear operation of a synapse.</summary>
public enum SynapseKind
{
    /// <summary>2-D convolution, weight [C_out, C_in, k_h, k_w], input [B, C_in, H, W].</summary>
    Conv2d,

    /// <summary>Fully connected, weight [F_out, F_in], input [B, F_in] (or flattened to it).</summary>
    Linear,
}

/// <summary>
/// A synaptic operation I = W P(x) + b: an optional average pooling P (a k x k window moved by a stride s
/// over the input with zero padding p, each output the window's sum / k^2 as torch's avg_pool2d with its
/// padded zeros counted; k = s, p = 0 by default, as an ANN's avgpool before the layer), an optional
/// flatten, then a convolution or a linear map with weight W and bias b. Every step is linear in x, so a
/// spike train's mean current is the synapse applied to the mean input. The synapse owns copies of its
/// weight and bias.
/// </summary>
public sealed class Synapse : IDisposable
{
    private Synapse(
        SynapseKind kind, Tensor weight, Tensor? bias, long stride, long padding, long poolBefore, bool flattenBefore, long dilation = 1, long groups = 1,
        long? poolStride = null, long poolPadding = 0)
    {
        Kind = kind;
        Weight = weight.detach().clone().DetachFromDisposeScope();
        Bias = bias?.detach().clone().DetachFromDisposeScope();
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        PoolBefore = poolBefore;
        PoolStride = poolStride ?? poolBefore;
        PoolPadding = poolPadding;
        FlattenBefore = flattenBefore;
    }

    /// <summary>The operation: convolution or linear.</summary>
    public SynapseKind Kind { get; }

    /// <summary>W: [C_out, C_in, k, k] for a convolution, [F_out, F_in] for a linear map.</summary>
    public Tensor Weight { get; }

    /// <summary>b: [C_out] or [F_out], or null for no bias.</summary>
    public Tensor? Bias { get; }

    /// <summary>Convolution stride, &gt;= 1 (1 for linear).</summary>
    public long Stride { get; }

    /// <summary>Convolution zero padding, &gt;= 0 (0 for linear).</summary>
    public long Padding { get; }

    /// <summary>Convolution dilation d &gt;= 1: kernel taps d pixels apart (1 for a dense kernel and for linear).</summary>
    public long Dilation { get; }

    /// <summary>
    /// Convolution groups g &gt;= 1: input and output channels split into g independent convolutions,
    /// output channel o reading input channels [(o / (C_out / g)) * C_in / g, ...) only (1 for linear).
    /// </summary>
    public long Groups { get; }

    /// <summary>Average-pooling kernel k applied before the operation; with <see cref="PoolStride"/> = 1 and no padding, 1 means no pooling.</summary>
    public long PoolBefore { get; }

    /// <summary>Stride s &gt;= 1 of the average pooling (= <see cref="PoolBefore"/> unless given).</summary>
    public long PoolStride { get; }

    /// <summary>Zero padding p of the average pooling, in [0, k / 2] (padded zeros count in each window's mean).</summary>
    public long PoolPadding { get; }

    /// <summary>Whether a pooling runs before the operation (any window other than k = s = 1, p = 0).</summary>
    public bool Pools => PoolBefore > 1 || PoolStride > 1 || PoolPadding > 0;

    /// <summary>
    /// Whether the pooling is a plain k x k one (k &gt; 1, stride k, no padding): the windows tile the input, so a
    /// neuron scan can write the pooled spikes itself.
    /// </summary>
    public bool PoolsInTiles => PoolBefore > 1 && PoolStride == PoolBefore && PoolPadding == 0;

    /// <summary>Whether the input is flattened to [B, F] (after pooling) before a linear map.</summary>
    public bool FlattenBefore { get; }

    /// <summary>The number of output channels or features: C_out or F_out.</summary>
    public long OutputChannels => Weight.shape[0];

    /// <summary>
    /// A convolution synapse I = conv(P(x), W, stride, padding, dilation, groups) + b, with P the average pooling
    /// of window k = <paramref name="poolBefore"/>, stride <paramref name="poolStride"/> and zero padding <paramref name="poolPadding"/>.
    /// </summary>
    /// <param name="weight">W, shape [C_out, C_in / groups, k_h, k_w], floating dtype.</param>
    /// <param name="bias">b, shape [C_out], or null.</param>
    /// <param name="stride">Convolution stride, &gt;= 1.</param>
    /// <param name="padding">Zero padding, &gt;= 0.</param>
    /// <param name="poolBefore">Average-pooling kernel and stride applied first, &gt;= 1 (1 = none).</param>
    /// <param name="dilation">Spacing of the kernel taps, &gt;= 1 (1 = dense).</param>
    /// <param name="groups">Channel groups, &gt;= 1, dividing C_out (C_in = groups x weight.shape[1]).</param>
    /// <param name="poolStride">Stride of the pooling, &gt;= 1; null for the window k (tiles).</param>
    /// <param name="poolPadding">Zero padding of the pooling, in [0, k / 2].</param>
    /// <exception cref="ArgumentException">A shape or a value out of its range.</exception>
    public static Synapse Conv2d(
        Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long poolBefore = 1, long dilation = 1, long groups = 1,
        long? poolStride = null, long poolPadding = 0)
    {
        if (weight.dim() != 4)
        {
            throw new ArgumentException(
                $"weight has shape [{string.Join(", ", weight.shape)}]: expected [C_out, C_in, k_h, k_w]", nameof(weight));
        }

        if (bias is not null)
        {
            Guard.SameShape(bias, [weight.shape[0]], nameof(bias));
        }

        Guard.AtLeast(stride, 1, nameof(stride), "convolution stride");
        Guard.AtLeast(padding, 0, nameof(padding), "zero padding");
        CheckPooling(poolBefore, poolStride, poolPadding);
        Guard.AtLeast(dilation, 1, nameof(dilation), "convolution dilation");
        Guard.AtLeast(groups, 1, nameof(groups), "convolution groups");
        if (weight.shape[0] % groups != 0)
        {
            throw new ArgumentException(
                $"groups = {groups} does not divide the weight's {weight.shape[0]} output channels: expected a divisor of C_out", nameof(groups));
        }

        return new Synapse(SynapseKind.Conv2d, weight, bias, stride, padding, poolBefore, false, dilation, groups, poolStride, poolPadding);
    }

    /// <summary>A linear synapse I = W flatten(P(x)) + b, P as for <see cref="Conv2d"/>.</summary>
    /// <param name="weight">W, shape [F_out, F_in], floating dtype.</param>
    /// <param name="bias">b, shape [F_out], or null.</param>
    /// <param name="flattenBefore">Flatten [B, ...] to [B, F_in] first (after pooling).</param>
    /// <param name="poolBefore">Average-pooling kernel applied first, &gt;= 1 (1 = none; needs a [B, C, H, W] input).</param>
    /// <param name="poolStride">Stride of the pooling, &gt;= 1; null for the window k (tiles).</param>
    /// <param name="poolPadding">Zero padding of the pooling, in [0, k / 2].</param>
    /// <exception cref="ArgumentException">A shape or a value out of its range.</exception>
    public static Synapse Linear(Tensor weight, Tensor? bias, bool flattenBefore = false, long poolBefore = 1, long? poolStride = null, long poolPadding = 0)
    {
        if (weight.dim() != 2)
        {
            throw new ArgumentException(
                $"weight has shape [{string.Join(", ", weight.shape)}]: expected [F_out, F_in]", nameof(weight));
        }

        if (bias is not null)
        {
            Guard.SameShape(bias, [weight.shape[0]], nameof(bias));
        }

        CheckPooling(poolBefore, poolStride, poolPadding);
        return new Synapse(SynapseKind.Linear, weight, bias, 1, 0, poolBefore, flattenBefore, poolStride: poolStride, poolPadding: poolPadding);
    }

    /// <summary>
    /// The pooled identity I = P(x) of a residual block whose identity shortcut follows a pooling: a depthwise 1 x 1
    /// convolution with weight 1 and no bias (exactly P(x); counted as a synapse like any other).
    /// </summary>
    /// <param name="channels">C, the channels of x, &gt;= 1.</param>
    /// <param name="kernel">The pooling window k, &gt;= 1.</param>
    /// <param name="stride">Its stride, &gt;= 1.</param>
    /// <param name="padding">Its zero padding, in [0, k / 2].</param>
    /// <param name="dtype">The weight's dtype.</param>
    /// <param name="device">Where the weight lives.</param>
    /// <exception cref="ArgumentException">A value out of its range.</exception>
    public static Synapse PooledIdentity(long channels, long kernel, long stride, long padding, ScalarType dtype, Device device)
    {
        Guard.AtLeast(channels, 1, nameof(channels), "channels");
        using var ones = torch.ones([channels, 1, 1, 1], dtype, device);
        return Conv2d(ones, null, poolBefore: kernel, groups: channels, poolStride: stride, poolPadding: padding);
    }

    /// <summary>I = W P(x) + b with this synapse's own weight and bias, for x of shape [B, ...].</summary>
    /// <param name="input">x, [B, C_in, H, W] or [B, F_in] (or anything flattening to it).</param>
    public Tensor Forward(Tensor input) => Apply(input, Weight, Bias);

    /// <summary>I = W x' + b for an input x' that is already P(x) (flatten still applies).</summary>
    /// <param name="pooledInput">P(x), [B, C_in, H / k, W / k].</param>
    internal Tensor ForwardPooled(Tensor pooledInput) => Apply(pooledInput, Weight, Bias, pool: false);

    /// <summary>
    /// I = W' P(x) + b' with the given weight and bias in place of the synapse's own (same shapes):
    /// used by weight calibration to differentiate with respect to trainable copies.
    /// </summary>
    /// <param name="input">x, [B, ...].</param>
    /// <param name="weight">W', same shape as <see cref="Weight"/>.</param>
    /// <param name="bias">b', same shape as <see cref="Bias"/>, or null.</param>
    public Tensor Apply(Tensor input, Tensor weight, Tensor? bias) => Apply(input, weight, bias, pool: true);

    /// <summary>
    /// The number of synaptic events caused by an input of event counts n [B, ...] (spikes per
    /// presynaptic neuron): sum over outputs of (1 * S(n)), the synapse applied with every weight
    /// set to 1, no bias, and sum pooling. Each spike counts once per postsynaptic neuron it reaches,
    /// so zero padding and pooling borders are exact. With n = 1 everywhere it is the MAC count of one
    /// dense pass of the layer, without the products with zero padding (which
    /// <see cref="OperationCount.ConvMacs"/> includes). Computed in float64 by <see cref="OperationCount.Sops"/>,
    /// the one definition of SOPs (exact below 2^53).
    /// </summary>
    /// <param name="inputCounts">n &gt;= 0, shape [B, ...] accepted by <see cref="Forward"/>.</param>
    public double ConnectionCount(Tensor inputCounts)
    {
        using var scope = NewDisposeScope();
        var ones = torch.ones_like(Weight, ScalarType.Float64);
        return OperationCount.Sops(inputCounts, counts => Apply(counts, ones, null, pool: true, sumPool: true));
    }

    /// <summary>Copies new values into the weight and bias in place (shapes must match).</summary>
    /// <param name="weight">New W, same shape as <see cref="Weight"/>.</param>
    /// <param name="bias">New b, same shape as <see cref="Bias"/>; ignored when the synapse has no bias.</param>
    public void Assign(Tensor weight, Tensor? bias)
    {
        Guard.SameShape(weight, Weight.shape, nameof(weight));
        using var noGrad = no_grad();
        Weight.copy_(weight);
        if (Bias is not null && bias is not null)
        {
            Guard.SameShape(bias, Bias.shape, nameof(bias));
            Bias.copy_(bias);
        }
    }

    /// <summary>A deep copy with its own weight and bias.</summary>
    public Synapse Clone() => new(Kind, Weight, Bias, Stride, Padding, PoolBefore, FlattenBefore, Dilation, Groups, PoolStride, PoolPadding);

    /// <summary>A deep copy with its weight and bias on <paramref name="device"/>.</summary>
    /// <param name="device">Where the copy's tensors live.</param>
    public Synapse CloneTo(Device device)
    {
        using var scope = NewDisposeScope();
        return new(Kind, Weight.to(device), Bias?.to(device), Stride, Padding, PoolBefore, FlattenBefore, Dilation, Groups, PoolStride, PoolPadding);
    }

    /// <summary>Disposes the weight and bias.</summary>
    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }

    private static void CheckPooling(long kernel, long? stride, long padding)
    {
        Guard.AtLeast(kernel, 1, "poolBefore", "average-pooling kernel");
        Guard.AtLeast(stride ?? kernel, 1, "poolStride", "average-pooling stride");
        if (padding < 0 || padding > kernel / 2)
        {
            throw new ArgumentException(
                $"poolPadding = {padding} is out of range: expected [0, {kernel / 2}] (at most half the pooling window {kernel})", "poolPadding");
        }
    }

    private Tensor Apply(Tensor input, Tensor weight, Tensor? bias, bool pool, bool sumPool = false)
    {
        using var scope = NewDisposeScope();
        var x = input;
        if (pool && Pools)
        {
            // Sum pooling (divisor 1) counts each spike once per window it falls in; padded zeros add nothing.
            x = nn.functional.avg_pool2d(x, PoolBefore, PoolStride, PoolPadding, divisor_override: sumPool ? 1 : null);
        }

        if (FlattenBefore)
        {
            x = x.flatten(1);
        }

        var y = Kind == SynapseKind.Conv2d
            ? nn.functional.conv2d(x, weight, bias, strides: [Stride, Stride], padding: [Padding, Padding], dilation: [Dilation, Dilation], groups: Groups)
            : nn.functional.linear(x, weight, bias);
        return y.MoveToOuterDisposeScope();
    }
}
