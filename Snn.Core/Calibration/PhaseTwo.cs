using System.Diagnostics;
using System.Globalization;
using Snn.Core.Simulation;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>The steps of Phase II applied to each layer, in the order a, b, c (PAPER.md).</summary>
[Flags]
public enum PhaseTwoStages
{
    /// <summary>a: potential calibration before weight calibration.</summary>
    Potential = 1,

    /// <summary>b: layer-wise weight calibration with surrogate BPTT.</summary>
    Weights = 2,

    /// <summary>c: potential calibration again, after the weights changed.</summary>
    PotentialAgain = 4,

    /// <summary>a, b and c: the full method.</summary>
    All = Potential | Weights | PotentialAgain,
}

/// <summary>What Phase II did to a network.</summary>
/// <param name="Layers">Per spiking layer, in order: its weight-calibration history (null when step b was skipped).</param>
/// <param name="PotentialShifts">Per spiking layer: mean |v(0) shift| of step a then of step c (0 when skipped).</param>
/// <param name="Elapsed">Wall time of the whole phase.</param>
public sealed record PhaseTwoReport(IReadOnlyList<LayerCalibrationHistory?> Layers, IReadOnlyList<(double A, double C)> PotentialShifts, TimeSpan Elapsed);

/// <summary>
/// Phase II (PAPER.md): for each spiking layer l = 1..n in order, a. potential calibration,
/// b. weight calibration, c. potential calibration again, each with every earlier layer already
/// calibrated. Only the given calibration and held-out batches are read.
/// </summary>
public static class PhaseTwo
{
    /// <summary>Calibrates the network in place and returns what was done.</summary>
    /// <param name="network">The converted network (v(0), synapses of spiking layers change).</param>
    /// <param name="annActivations">images -&gt; one Phase-I QC-ANN activation [B, ...NeuronShape] per spiking layer, in order.</param>
    /// <param name="calibration">Calibration batches (from training data; the paper uses 1,024 images).</param>
    /// <param name="heldOut">Early-stopping batches (other training images; the paper uses 256); never test data.</param>
    /// <param name="timeSteps">T &gt;= 1, the latency being calibrated for.</param>
    /// <param name="stages">Which of a, b, c to run (all by default); subsets give the ablation.</param>
    /// <param name="options">Weight-calibration options; null for defaults.</param>
    /// <param name="progress">Receives a line per finished step, or null.</param>
    public static PhaseTwoReport Calibrate(
        SpikingNetwork network, Func<Tensor, Tensor[]> annActivations, IReadOnlyList<Tensor> calibration, IReadOnlyList<Tensor> heldOut,
        int timeSteps, PhaseTwoStages stages = PhaseTwoStages.All, CalibrationOptions? options = null, Action<string>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var histories = new List<LayerCalibrationHistory?>();
        var shifts = new List<(double, double)>();
        for (var l = 0; l < network.NeuronLayers.Count; l++)
        {
            var name = network.Layers[network.NeuronLayers[l]].Name;
            double a = 0, c = 0;
            LayerCalibrationHistory? history = null;
            if (stages.HasFlag(PhaseTwoStages.Potential))
            {
                a = PotentialCalibration.CalibrateLayer(network, l, annActivations, calibration, timeSteps);
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{name}: potential calibration, mean |dv(0)| = {a:G4}"));
            }

            if (stages.HasFlag(PhaseTwoStages.Weights))
            {
                history = WeightCalibration.CalibrateLayer(network, l, annActivations, calibration, heldOut, timeSteps, options);
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{name}: weight calibration, held-out KL {history.HeldOutLoss[0]:G4} -> {history.HeldOutLoss[history.BestEpoch]:G4} (epoch {history.BestEpoch})"));
            }

            if (stages.HasFlag(PhaseTwoStages.PotentialAgain))
            {
                c = PotentialCalibration.CalibrateLayer(network, l, annActivations, calibration, timeSteps);
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{name}: potential calibration again, mean |dv(0)| = {c:G4}"));
            }

            histories.Add(history);
            shifts.Add((a, c));
        }

        return new PhaseTwoReport(histories, shifts, clock.Elapsed);
    }
}
