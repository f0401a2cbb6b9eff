using Snn.Core.Native;
using Snn.Core.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>
/// Phase II steps a and c (PAPER.md): shift a layer's initial potential so that its mean SNN rate
/// matches the mean ANN activation, per neuron:
/// <code>v_l(0) += T * (E[a_l^ANN] - E[r_l^SNN])</code>
/// the expectations over the calibration images, r_l measured with all earlier layers as they are
/// (already calibrated when called in order). By the identity r = z + (v(0) - v(T)) / T the shift
/// moves r by exactly the gap wherever v(T) does not change (no extra spike is gained or lost).
/// </summary>
public static class PotentialCalibration
{
    /// <summary>Calibrates v(0) of one spiking layer in place and returns the mean |shift| of v(0).</summary>
    /// <param name="network">The network; only this layer's v(0) changes.</param>
    /// <param name="neuronLayer">Index into <see cref="SpikingNetwork.NeuronLayers"/>, in [0, count).</param>
    /// <param name="annActivations">images [B, ...] -&gt; one ANN activation [B, ...NeuronShape] per spiking layer, in order.</param>
    /// <param name="batches">Calibration images, each [B, ...InputShape]; at least one batch. Only these are read.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">An index, T, a batch list or an activation shape out of range.</exception>
    public static double CalibrateLayer(SpikingNetwork network, int neuronLayer, Func<Tensor, Tensor[]> annActivations, IReadOnlyList<Tensor> batches, int timeSteps)
    {
        var index = AnnTargets.CheckIndex(network, neuronLayer);
        AnnTargets.CheckBatches(batches, nameof(batches));
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var layer = network.Layers[index];
        var record = new bool[index + 1];
        record[index] = true;
        Tensor? gap = null;
        long count = 0;
        foreach (var images in batches)
        {
            using var batchScope = NewDisposeScope();
            var run = network.Simulate(images, timeSteps, index, record, null, SpikingNetwork.DefaultTimeChunk);
            using var stats = run.Statistics[index]!;
            var target = AnnTargets.For(network, annActivations, images, neuronLayer);
            var diff = (target - stats.Rate!).sum(dim: 0L);
            if (gap is null)
            {
                gap = diff.MoveToOuterDisposeScope();
            }
            else
            {
                gap.add_(diff, Scalars.One);
            }

            count += images.shape[0];
        }

        var shift = Shift(gap!, count, timeSteps).to_type(layer.InitialPotential!.dtype);
        layer.InitialPotential.add_(shift, Scalars.One);
        return shift.abs().mean().to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>
    /// The shift of v(0) per neuron, T * (E[a] - E[r]), from the gap summed over the calibration images:
    /// <code>shift = gapSum * (T / count),   gapSum = sum over images of (a - r)</code>
    /// </summary>
    /// <param name="gapSum">sum over the images of a_l^ANN - r_l^SNN, one entry per neuron.</param>
    /// <param name="count">The number of images summed, &gt;= 1.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">count or T &lt; 1.</exception>
    public static Tensor Shift(Tensor gapSum, long count, int timeSteps)
    {
        Guard.AtLeast(count, 1, nameof(count), "calibration images");
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        using var factor = ((double)timeSteps / count).ToScalar();
        return gapSum.mul(factor);
    }

    /// <summary>Calibrates every spiking layer in order l = 1..n; returns each layer's mean |shift| of v(0).</summary>
    /// <param name="network">The network; v(0) of every spiking layer changes.</param>
    /// <param name="annActivations">images -&gt; ANN activations, one per spiking layer.</param>
    /// <param name="batches">Calibration images; at least one batch.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    public static double[] CalibrateAll(SpikingNetwork network, Func<Tensor, Tensor[]> annActivations, IReadOnlyList<Tensor> batches, int timeSteps) =>
        Enumerable.Range(0, network.NeuronLayers.Count)
            .Select(l => CalibrateLayer(network, l, annActivations, batches, timeSteps))
            .ToArray();
}
