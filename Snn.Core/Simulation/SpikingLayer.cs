using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// One incoming connection of a layer: the spikes of an earlier layer (or the analog image) through a
/// synapse, or unchanged (an identity shortcut) when <see cref="Synapse"/> is null.
/// </summary>
/// <param name="Source">Index of the presynaptic layer in the network, or <see cref="SpikingNetwork.ImageSource"/> (-1) for the analog input image.</param>
/// <param name="Synapse">The synaptic operation, or null for identity (the source's outputs theta * s(t) are the current).</param>
public sealed record SpikingInput(int Source, Synapse? Synapse);

/// <summary>
/// A population of integrate-and-fire neurons (or, for the last layer, a plain accumulator) with its
/// incoming synapses. At step t its current is I(t) = sum over inputs of Synapse(x_source(t)); the
/// neurons follow <see cref="Neurons.IfNeuron"/> (charge, fire, soft reset, x_out(t) = theta * s(t))
/// from v(0) = <see cref="InitialPotential"/>. A layer without a neuron only accumulates: its output is
/// (1/T) sum_t I(t). The layer owns its synapses, threshold and initial potential.
/// </summary>
public sealed class SpikingLayer : IDisposable
{
    internal SpikingLayer(string name, IReadOnlyList<SpikingInput> inputs, long[] neuronShape, Tensor? threshold, Tensor? initialPotential)
    {
        Name = name;
        Inputs = inputs;
        NeuronShape = neuronShape;
        Threshold = threshold;
        InitialPotential = initialPotential;
    }

    /// <summary>The layer's name, e.g. "conv1" or "block1/main".</summary>
    public string Name { get; }

    /// <summary>The incoming connections; their currents add.</summary>
    public IReadOnlyList<SpikingInput> Inputs { get; }

    /// <summary>The shape of one sample's neurons: [C, H, W] or [F].</summary>
    public long[] NeuronShape { get; }

    /// <summary>theta &gt; 0, broadcastable to <see cref="NeuronShape"/> (scalar, per channel [C, 1, 1], or per neuron); null for the output layer.</summary>
    public Tensor? Threshold { get; }

    /// <summary>v(0), shape <see cref="NeuronShape"/> (default theta / 2); null for the output layer. Phase II changes it in place.</summary>
    public Tensor? InitialPotential { get; }

    /// <summary>True for integrate-and-fire layers, false for the accumulating output layer.</summary>
    public bool HasNeuron => Threshold is not null;

    /// <summary>Copies new values into v(0) in place.</summary>
    /// <param name="initialPotential">New v(0), broadcastable to <see cref="NeuronShape"/>.</param>
    /// <exception cref="InvalidOperationException">The layer has no neuron.</exception>
    public void AssignInitialPotential(Tensor initialPotential)
    {
        if (InitialPotential is null)
        {
            throw new InvalidOperationException($"layer {Name} has no neuron, so no initial potential");
        }

        Guard.Broadcastable(initialPotential, NeuronShape, nameof(initialPotential));
        using var noGrad = no_grad();
        InitialPotential.copy_(initialPotential);
    }

    /// <summary>Copies new values into theta in place (its shape stays).</summary>
    /// <param name="threshold">New theta, broadcastable to <see cref="Threshold"/>'s shape, every value finite and &gt; 0.</param>
    /// <exception cref="InvalidOperationException">The layer has no neuron.</exception>
    /// <exception cref="ArgumentException">A value is not finite or not positive, or the shape does not broadcast.</exception>
    public void AssignThreshold(Tensor threshold)
    {
        if (Threshold is null)
        {
            throw new InvalidOperationException($"layer {Name} has no neuron, so no threshold");
        }

        Guard.Broadcastable(threshold, Threshold.shape, nameof(threshold));
        using var noGrad = no_grad();
        if (!threshold.isfinite().all().item<bool>() || !threshold.gt(0).all().item<bool>())
        {
            throw new ArgumentException($"layer {Name}: every threshold must be finite and > 0", nameof(threshold));
        }

        Threshold.copy_(threshold);
    }

    /// <summary>A deep copy (synapses, threshold and v(0) copied).</summary>
    public SpikingLayer Clone()
    {
        using var noGrad = no_grad();
        var inputs = Inputs.Select(i => new SpikingInput(i.Source, i.Synapse?.Clone())).ToArray();
        return new SpikingLayer(Name, inputs, NeuronShape, Threshold?.clone().DetachFromDisposeScope(), InitialPotential?.clone().DetachFromDisposeScope());
    }

    /// <summary>A deep copy with every tensor (synapses, threshold, v(0)) on <paramref name="device"/>.</summary>
    /// <param name="device">Where the copy's tensors live.</param>
    public SpikingLayer CloneTo(Device device)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var inputs = Inputs.Select(i => new SpikingInput(i.Source, i.Synapse?.CloneTo(device))).ToArray();
        return new SpikingLayer(
            Name, inputs, NeuronShape, Threshold?.to(device).clone().DetachFromDisposeScope(), InitialPotential?.to(device).clone().DetachFromDisposeScope());
    }

    /// <summary>The device of the layer's tensors (its threshold, else its first synapse's weight); null when it has none.</summary>
    internal Device? Device => Threshold?.device ?? Inputs.Select(i => i.Synapse?.Weight.device).FirstOrDefault(d => d is not null);

    /// <summary>Disposes the synapses, threshold and v(0).</summary>
    public void Dispose()
    {
        foreach (var input in Inputs)
        {
            input.Synapse?.Dispose();
        }

        Threshold?.Dispose();
        InitialPotential?.Dispose();
    }
}
