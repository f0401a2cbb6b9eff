using Snn.Core.Native;
using Snn.Core.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>The results of a <see cref="SimulationRun"/>: the network output, per-layer statistics with operation counts, captured trains.</summary>
internal sealed partial class SimulationRun
{
    /// <summary>
    /// The output, statistics and captured trains after <paramref name="t"/> steps; with
    /// <paramref name="copy"/> (a readout), state that keeps changing is copied and no train is returned.
    /// New tensors belong to the engine's scope and are moved to the caller's.
    /// </summary>
    public EngineOutput Finish(int t, bool copy)
    {
        var networkOutput = NetworkOutput(t);
        var statistics = new LayerStatistics?[n];
        for (var l = 0; l < n; l++)
        {
            if (record?[l] == true)
            {
                statistics[l] = Statistics(l, t, copy, networkOutput);
            }
        }

        var trains = new Tensor?[n];
        for (var l = 0; l < n; l++)
        {
            if (!copy && captured[l] is { } parts)
            {
                trains[l] = (parts.Count == 1 ? parts[0] : torch.cat(parts, 0)).MoveToOuterDisposeScope();
            }
        }

        return new EngineOutput(networkOutput, statistics, trains);
    }

    /// <summary>
    /// The network output after t steps, when the last layer is the accumulating output layer: its image
    /// current plus each synapse applied to the mean of its source's outputs (linearity), moved to the caller's scope.
    /// </summary>
    private Tensor? NetworkOutput(int t)
    {
        var last = layers[n - 1];
        if (last.HasNeuron)
        {
            return null;
        }

        using var steps = t.ToScalar();
        Tensor? sum = imageCurrent[n - 1];
        for (var i = 0; i < last.Inputs.Count; i++)
        {
            var input = last.Inputs[i];
            if (input.Source == SpikingNetwork.ImageSource)
            {
                continue;
            }

            var mean = inputSum[n - 1][i]!.div(steps);
            var c = input.Synapse is null ? mean : input.Synapse.Forward(mean);
            sum = sum is null ? c : sum.add(c, Scalars.One);
        }

        return sum!.MoveToOuterDisposeScope();
    }

    /// <summary>The recorded statistics of layer l after t steps (z, r, counts, v(0), v(t), theta, SOPs, MACs).</summary>
    private LayerStatistics Statistics(int l, int t, bool copy, Tensor? networkOutput)
    {
        var layer = layers[l];
        var (sops, macs) = Operations(layer, t);
        if (!layer.HasNeuron)
        {
            return new LayerStatistics(layer.Name, networkOutput!.clone().MoveToOuterDisposeScope(), null, null, null, null, null, sops, macs);
        }

        var spikeCounts = counts[l]!;
        using var steps = t.ToScalar();
        return new LayerStatistics(
            layer.Name,
            meanInputSum[l]!.div(steps).MoveToOuterDisposeScope(),
            IfNeuron.Rate(spikeCounts, theta[l]!, t).MoveToOuterDisposeScope(),
            (copy ? spikeCounts.clone() : spikeCounts).MoveToOuterDisposeScope(),
            layer.InitialPotential!.to_type(dtype).clone().MoveToOuterDisposeScope(),
            (copy ? potential[l]!.clone() : potential[l]!).MoveToOuterDisposeScope(),
            theta[l]!.clone().MoveToOuterDisposeScope(),
            sops,
            macs);
    }

    /// <summary>
    /// The operations of a layer over t steps and the batch: SOPs of its spiking inputs from their sources'
    /// spike counts (NaN when a source was not recorded), MACs of its image inputs at every step.
    /// </summary>
    private (double Sops, double Macs) Operations(SpikingLayer layer, int timeSteps)
    {
        double sops = 0, macs = 0;
        foreach (var input in layer.Inputs)
        {
            if (input.Source == SpikingNetwork.ImageSource)
            {
                using var ones = torch.ones([1, .. inputShape], images.dtype, images.device);
                var perImage = input.Synapse?.ConnectionCount(ones) ?? ones.numel();
                macs += perImage * images.shape[0] * timeSteps;
                continue;
            }

            var sourceCounts = counts[input.Source];
            if (sourceCounts is null)
            {
                sops = double.NaN;
                continue;
            }

            using var total = sourceCounts.sum(dim: 0L, keepdim: true);
            sops += input.Synapse?.ConnectionCount(total) ?? total.sum().to_type(ScalarType.Float64).item<double>();
        }

        return (sops, macs);
    }
}

/// <summary>What <see cref="SpikingNetwork.Simulate"/> returns: the output (when the last layer ran), statistics and captured trains per layer.</summary>
internal sealed record EngineOutput(Tensor? Output, LayerStatistics?[] Statistics, Tensor?[] Trains);
