using Snn.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Energy;

/// <summary>
/// Operation counts for the energy estimate (PAPER.md, "Energy estimate").
/// <para>
/// ANN side, per sample, multiply-accumulates (MACs): a convolution costs
/// (output elements) x (in channels / groups) x kH x kW, a linear layer out x in. Bias additions and
/// activations are not counted. Average pooling is folded into the next layer (its weights divide by the
/// window size), so it counts 0 MACs; BatchNorm is folded into the preceding layer and counts 0 as well.
/// </para>
/// <para>
/// SNN side, synaptic operations (SOPs): every spike that arrives at a layer costs one accumulate per
/// output it reaches (its fan-out), so SOPs = sum over input positions of spikeCount x fanOut, with borders
/// (padding, strides that skip positions) counted exactly. This equals the sum of the layer's
/// "connectivity" applied to the spike counts, i.e. the layer's linear map with every weight set to 1 and
/// no bias: SOPs = sum(onesConnectivity(spikeCounts)). Spike counts are summed over all T steps, and over
/// the batch, so results are totals for the batch. Kernels are square; dilation is not supported.
/// </para>
/// </summary>
public static class OperationCount
{
    /// <summary>Output size of a convolution or pooling along one axis: floor((n + 2p - k) / s) + 1.</summary>
    /// <param name="inputSize">n &gt;= 1.</param>
    /// <param name="kernelSize">k &gt;= 1, with k &lt;= n + 2p.</param>
    /// <param name="stride">s &gt;= 1.</param>
    /// <param name="padding">p &gt;= 0.</param>
    /// <exception cref="ArgumentException">A value out of range, or a kernel larger than the padded input.</exception>
    public static long ConvOutputSize(long inputSize, long kernelSize, long stride = 1, long padding = 0)
    {
        Guard.AtLeast(inputSize, 1, nameof(inputSize), "input size");
        Guard.AtLeast(kernelSize, 1, nameof(kernelSize), "kernel size");
        Guard.AtLeast(stride, 1, nameof(stride), "stride");
        Guard.AtLeast(padding, 0, nameof(padding), "padding");
        if (kernelSize > inputSize + 2 * padding)
        {
            throw new ArgumentException(
                $"{nameof(kernelSize)} = {kernelSize} is out of range: expected <= input size + 2 x padding = {inputSize + 2 * padding}",
                nameof(kernelSize));
        }

        return (inputSize + 2 * padding - kernelSize) / stride + 1;
    }

    /// <summary>
    /// MACs of one 2-D convolution for one sample:
    /// outChannels x Hout x Wout x (inChannels / groups) x k x k, with Hout, Wout from <see cref="ConvOutputSize"/>.
    /// </summary>
    /// <param name="inChannels">C_in, a positive multiple of groups.</param>
    /// <param name="outChannels">C_out, a positive multiple of groups.</param>
    /// <param name="inputHeight">H &gt;= 1.</param>
    /// <param name="inputWidth">W &gt;= 1.</param>
    /// <param name="kernelSize">k &gt;= 1 (square kernel).</param>
    /// <param name="stride">s &gt;= 1.</param>
    /// <param name="padding">p &gt;= 0 (zero padding on every side).</param>
    /// <param name="groups">g &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public static long ConvMacs(
        long inChannels, long outChannels, long inputHeight, long inputWidth, long kernelSize, long stride = 1, long padding = 0, long groups = 1)
    {
        Guard.AtLeast(groups, 1, nameof(groups), "groups");
        Guard.MultipleOf(inChannels, groups, nameof(inChannels), "input channels");
        Guard.MultipleOf(outChannels, groups, nameof(outChannels), "output channels");
        var outHeight = ConvOutputSize(inputHeight, kernelSize, stride, padding);
        var outWidth = ConvOutputSize(inputWidth, kernelSize, stride, padding);
        return outChannels * outHeight * outWidth * (inChannels / groups) * kernelSize * kernelSize;
    }

    /// <summary>MACs of one linear layer for one sample: outFeatures x inFeatures.</summary>
    /// <param name="inFeatures">in &gt;= 1.</param>
    /// <param name="outFeatures">out &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public static long LinearMacs(long inFeatures, long outFeatures)
    {
        Guard.AtLeast(inFeatures, 1, nameof(inFeatures), "input features");
        Guard.AtLeast(outFeatures, 1, nameof(outFeatures), "output features");
        return inFeatures * outFeatures;
    }

    /// <summary>
    /// SOPs = sum(onesConnectivity(spikeCounts)): the generic form for any layer, given its linear map with
    /// every weight 1 and no bias (e.g. a conv2d with a ones kernel of the layer's shape, stride and padding).
    /// Computed in float64; exact for totals below 2^53.
    /// </summary>
    /// <param name="spikeCounts">Spikes arriving at the layer summed over the T steps, any shape the map accepts, entries &gt;= 0.</param>
    /// <param name="onesConnectivity">The layer's connectivity map; it receives float64 counts.</param>
    /// <exception cref="ArgumentException">A negative spike count.</exception>
    public static double Sops(Tensor spikeCounts, Func<Tensor, Tensor> onesConnectivity)
    {
        ArgumentNullException.ThrowIfNull(onesConnectivity);
        Guard.NonNegative(spikeCounts, nameof(spikeCounts));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return onesConnectivity(spikeCounts.to_type(ScalarType.Float64)).sum().to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>
    /// SOPs of spikes arriving at a 2-D convolution: sum over input positions (b, c, h, w) of
    /// count x (outChannels / groups) x (number of output positions whose window covers (h, w)).
    /// Equal to the sum of conv2d(counts, ones[outChannels, C / groups, k, k], stride, padding, groups);
    /// computed as the channel sum within each group, one ones-kernel convolution, times outChannels / groups.
    /// </summary>
    /// <param name="spikeCounts">Counts [B, C, H, W], entries &gt;= 0, C a multiple of groups.</param>
    /// <param name="outChannels">C_out, a positive multiple of groups.</param>
    /// <param name="kernelSize">k &gt;= 1, &lt;= H + 2p and W + 2p.</param>
    /// <param name="stride">s &gt;= 1.</param>
    /// <param name="padding">p &gt;= 0.</param>
    /// <param name="groups">g &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range or a tensor that is not [B, C, H, W].</exception>
    public static double ConvSops(Tensor spikeCounts, long outChannels, long kernelSize, long stride = 1, long padding = 0, long groups = 1)
    {
        var grouped = ValidateConv(spikeCounts, outChannels, kernelSize, stride, padding, groups);
        return Sops(spikeCounts, counts => Times(OnesConv(GroupSum(counts, grouped), kernelSize, stride, padding), outChannels / groups));
    }

    /// <summary>
    /// SOPs of spikes arriving at a non-overlapping average pool of size P (kernel = stride = P, no padding)
    /// followed by a 2-D convolution: the pool is folded into the convolution, so each spike costs the
    /// convolution's fan-out from its pooled cell (0 for positions the pool drops at the border):
    /// SOPs = sum(onesConv(sumPool_P(counts))) x outChannels / groups.
    /// </summary>
    /// <param name="spikeCounts">Counts [B, C, H, W], entries &gt;= 0, H and W &gt;= P.</param>
    /// <param name="poolSize">P &gt;= 1.</param>
    /// <param name="outChannels">C_out, a positive multiple of groups.</param>
    /// <param name="kernelSize">k &gt;= 1, at most the padded pooled size.</param>
    /// <param name="stride">s &gt;= 1.</param>
    /// <param name="padding">p &gt;= 0.</param>
    /// <param name="groups">g &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range or a tensor that is not [B, C, H, W].</exception>
    public static double PooledConvSops(
        Tensor spikeCounts, long poolSize, long outChannels, long kernelSize, long stride = 1, long padding = 0, long groups = 1)
    {
        var grouped = ValidateConv(spikeCounts, outChannels, kernelSize, stride, padding, groups, checkSpatial: false);
        var pooledHeight = ConvOutputSize(spikeCounts.shape[2], poolSize, poolSize);
        var pooledWidth = ConvOutputSize(spikeCounts.shape[3], poolSize, poolSize);
        ConvOutputSize(pooledHeight, kernelSize, stride, padding);
        ConvOutputSize(pooledWidth, kernelSize, stride, padding);
        return Sops(
            spikeCounts,
            counts => Times(OnesConv(OnesConv(GroupSum(counts, grouped), poolSize, poolSize, 0), kernelSize, stride, padding), outChannels / groups));
    }

    /// <summary>
    /// SOPs of spikes arriving at a linear layer (after flattening, or after a global average pool that is
    /// folded into it): every spike reaches all outFeatures outputs, so SOPs = sum(counts) x outFeatures.
    /// </summary>
    /// <param name="spikeCounts">Counts [B, ...], entries &gt;= 0.</param>
    /// <param name="outFeatures">out &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public static double LinearSops(Tensor spikeCounts, long outFeatures)
    {
        Guard.AtLeast(outFeatures, 1, nameof(outFeatures), "output features");
        return Sops(spikeCounts, counts => Times(counts.sum(), outFeatures));
    }

    private static long ValidateConv(
        Tensor spikeCounts, long outChannels, long kernelSize, long stride, long padding, long groups, bool checkSpatial = true)
    {
        if (spikeCounts.dim() != 4)
        {
            throw new ArgumentException(
                $"{nameof(spikeCounts)} has shape [{string.Join(", ", spikeCounts.shape)}]: expected [B, C, H, W]", nameof(spikeCounts));
        }

        Guard.AtLeast(groups, 1, nameof(groups), "groups");
        Guard.MultipleOf(spikeCounts.shape[1], groups, nameof(spikeCounts), "input channels C");
        Guard.MultipleOf(outChannels, groups, nameof(outChannels), "output channels");
        if (checkSpatial)
        {
            ConvOutputSize(spikeCounts.shape[2], kernelSize, stride, padding);
            ConvOutputSize(spikeCounts.shape[3], kernelSize, stride, padding);
        }

        return groups;
    }

    // x * factor, with the factor's Scalar held for the call.
    private static Tensor Times(Tensor x, long factor)
    {
        using var f = factor.ToScalar();
        return x.mul(f);
    }

    // [B, C, H, W] -> [B, g, H, W]: the counts summed over the channels of each group.
    private static Tensor GroupSum(Tensor counts, long groups)
    {
        var shape = counts.shape;
        return counts.reshape(shape[0], groups, shape[1] / groups, shape[2], shape[3]).sum(2);
    }

    // Depthwise conv2d with an all-ones k x k kernel: each output is the sum of the counts in its window.
    private static Tensor OnesConv(Tensor counts, long kernelSize, long stride, long padding)
    {
        var channels = counts.shape[1];
        using var ones = torch.ones(new[] { channels, 1, kernelSize, kernelSize }, counts.dtype, counts.device);
        return nn.functional.conv2d(counts, ones, null, new[] { stride, stride }, new[] { padding, padding }, null, channels);
    }
}
