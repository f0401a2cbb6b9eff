using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// What one layer did over a T-step run, per sample and neuron. For layers with a neuron the
/// identity r = z + (v(0) - v(T)) / T holds entry by entry (up to float rounding).
/// </summary>
public sealed class LayerStatistics : IDisposable
{
    internal LayerStatistics(string name, Tensor meanInput, Tensor? rate, Tensor? spikeCounts, Tensor? initialPotential,
        Tensor? finalPotential, Tensor? threshold, double synapticOperations, double analogOperations)
    {
        Name = name;
        MeanInput = meanInput;
        Rate = rate;
        SpikeCounts = spikeCounts;
        InitialPotential = initialPotential;
        FinalPotential = finalPotential;
        Threshold = threshold;
        SynapticOperations = synapticOperations;
        AnalogOperations = analogOperations;
    }

    /// <summary>The layer's name.</summary>
    public string Name { get; }

    /// <summary>z = (1/T) sum_t I(t), shape [B, ...]; for the output layer these are the logits.</summary>
    public Tensor MeanInput { get; }

    /// <summary>r = (1/T) sum_t theta * s(t), shape [B, ...], values in [0, theta]; null for the output layer.</summary>
    public Tensor? Rate { get; }

    /// <summary>sum_t s(t), shape [B, ...], integers in [0, T]; null for the output layer.</summary>
    public Tensor? SpikeCounts { get; }

    /// <summary>v(0), shape of one sample's neurons; null for the output layer.</summary>
    public Tensor? InitialPotential { get; }

    /// <summary>v(T), shape [B, ...]; null for the output layer.</summary>
    public Tensor? FinalPotential { get; }

    /// <summary>theta as used in the run (broadcastable to one sample's neurons); null for the output layer.</summary>
    public Tensor? Threshold { get; }

    /// <summary>
    /// SOPs of the batch at this layer: sum over spiking inputs of (spikes arriving per presynaptic
    /// neuron x that neuron's fan-out), over all T steps and samples; see <see cref="Synapse.ConnectionCount"/>.
    /// </summary>
    public double SynapticOperations { get; }

    /// <summary>MACs of the batch on analog (image) inputs, counted at every one of the T steps (PAPER.md, energy).</summary>
    public double AnalogOperations { get; }

    /// <summary>Disposes the recorded tensors.</summary>
    public void Dispose()
    {
        MeanInput.Dispose();
        Rate?.Dispose();
        SpikeCounts?.Dispose();
        InitialPotential?.Dispose();
        FinalPotential?.Dispose();
        Threshold?.Dispose();
    }
}

/// <summary>The outcome of a T-step simulation of a batch.</summary>
public sealed class SimulationResult : IDisposable
{
    internal SimulationResult(Tensor output, int timeSteps, IReadOnlyList<LayerStatistics> layers, IReadOnlyList<SimulationResult> readouts)
    {
        Readouts = readouts;
        Output = output;
        TimeSteps = timeSteps;
        Layers = layers;
    }

    /// <summary>The network output: the last layer's mean pre-activation (1/T) sum_t I(t), shape [B, classes].</summary>
    public Tensor Output { get; }

    /// <summary>T, the number of simulated steps (&gt;= 1).</summary>
    public int TimeSteps { get; }

    /// <summary>Per-layer statistics in network order when <see cref="SimulationOptions.Record"/> is set; empty otherwise.</summary>
    public IReadOnlyList<LayerStatistics> Layers { get; }

    /// <summary>
    /// The results at the earlier step counts of <see cref="SimulationOptions.Readouts"/>, in that
    /// order, each equal to a run with T = its <see cref="TimeSteps"/>; empty when none were asked
    /// for or when <see cref="SimulationOptions.OnReadout"/> took them. Disposed with this result.
    /// </summary>
    public IReadOnlyList<SimulationResult> Readouts { get; }

    /// <summary>Disposes the output, every recorded tensor and the readouts.</summary>
    public void Dispose()
    {
        Output.Dispose();
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }

        foreach (var readout in Readouts)
        {
            readout.Dispose();
        }
    }
}
