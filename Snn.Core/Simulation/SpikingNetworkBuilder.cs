using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// Builds a <see cref="SpikingNetwork"/> layer by layer, inferring each layer's neuron shape from its
/// synapses (a dry run on a zero input) and checking that the currents of all inputs agree. The
/// builder takes ownership of the synapses it is given; thresholds and v(0) are copied.
/// <code>
/// using var net = new SpikingNetworkBuilder([1, 28, 28])
///     .Layer("conv1", Synapse.Conv2d(w1, b1, padding: 1), theta1)
///     .Layer("fc1", Synapse.Linear(w2, b2, flattenBefore: true, poolBefore: 2), theta2)
///     .Output("fc2", Synapse.Linear(w3, b3))
///     .Build();
/// </code>
/// </summary>
public sealed class SpikingNetworkBuilder
{
    private readonly List<SpikingLayer> layers = [];
    private readonly ScalarType dtype;
    private bool closed;

    /// <summary>Starts a network on images of one sample shape.</summary>
    /// <param name="inputShape">One image's shape, e.g. [C, H, W]; every entry &gt;= 1.</param>
    /// <param name="dtype">The floating dtype of thresholds and potentials (float32 by default).</param>
    public SpikingNetworkBuilder(long[] inputShape, ScalarType dtype = ScalarType.Float32)
    {
        if (inputShape.Length == 0 || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException($"inputShape = [{string.Join(", ", inputShape)}] is out of range: expected at least one dimension, each >= 1", nameof(inputShape));
        }

        InputShape = inputShape;
        this.dtype = dtype;
    }

    /// <summary>One image's shape.</summary>
    public long[] InputShape { get; }

    /// <summary>The index of the most recently added layer, or <see cref="SpikingNetwork.ImageSource"/> before the first.</summary>
    public int Last => layers.Count - 1;

    /// <summary>The general form: a layer with any inputs from earlier layers or the image, with or without a neuron.</summary>
    /// <param name="name">Layer name (non-empty).</param>
    /// <param name="inputs">At least one input; sources in [-1, <see cref="Last"/>]; all currents of the same shape.</param>
    /// <param name="threshold">theta &gt; 0 broadcastable to the neuron shape, or null for the accumulating output layer (which must be last).</param>
    /// <param name="initialPotential">v(0) broadcastable to the neuron shape; null means theta / 2.</param>
    /// <exception cref="ArgumentException">Bad sources, mismatched shapes, a non-positive threshold.</exception>
    public SpikingNetworkBuilder Add(string name, IReadOnlyList<SpikingInput> inputs, Tensor? threshold, Tensor? initialPotential = null)
    {
        if (closed)
        {
            throw new InvalidOperationException("the output layer was already added: no layer may follow it");
        }

        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("name is empty: expected a layer name", nameof(name));
        }

        if (inputs.Count == 0)
        {
            throw new ArgumentException($"layer {name}: inputs is empty: expected at least one input", nameof(inputs));
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[]? shape = null;
        foreach (var input in inputs)
        {
            if (input.Source < SpikingNetwork.ImageSource || input.Source > Last || (input.Source >= 0 && !layers[input.Source].HasNeuron))
            {
                throw new ArgumentException($"layer {name}: input source {input.Source} is out of range: expected -1 (image) or a spiking layer index in [0, {Last}]", nameof(inputs));
            }

            var sourceShape = input.Source == SpikingNetwork.ImageSource ? InputShape : layers[input.Source].NeuronShape;
            var probe = torch.zeros([1, .. sourceShape], dtype, input.Synapse?.Weight.device);
            long[] outShape;
            try
            {
                outShape = (input.Synapse is null ? probe : input.Synapse.Forward(probe)).shape[1..];
            }
            catch (Exception e) when (e is not ArgumentException)
            {
                throw new ArgumentException($"layer {name}: the synapse from source {input.Source} rejects inputs of shape [{string.Join(", ", sourceShape)}]: {e.Message}", nameof(inputs), e);
            }

            if (shape is not null && !shape.SequenceEqual(outShape))
            {
                throw new ArgumentException($"layer {name}: input currents have shapes [{string.Join(", ", shape)}] and [{string.Join(", ", outShape)}]: expected equal shapes", nameof(inputs));
            }

            shape = outShape;
        }

        Tensor? theta = null, v0 = null;
        if (threshold is not null)
        {
            Guard.Positive(threshold, nameof(threshold));
            Guard.Broadcastable(threshold, shape!, nameof(threshold));
            theta = threshold.detach().to_type(dtype).clone();
            if (initialPotential is not null)
            {
                Guard.Broadcastable(initialPotential, shape!, nameof(initialPotential));
                v0 = initialPotential.detach().to_type(dtype).expand(shape!).clone();
            }
            else
            {
                v0 = Neurons.IfNeuron.HalfShift(theta).expand(shape!).clone();
            }

            theta.DetachFromDisposeScope();
            v0.DetachFromDisposeScope();
        }
        else
        {
            closed = true;
        }

        layers.Add(new SpikingLayer(name, inputs.ToArray(), shape!, theta, v0));
        return this;
    }

    /// <summary>A feed-forward integrate-and-fire layer fed by the previous layer (or the image, for the first).</summary>
    /// <param name="name">Layer name.</param>
    /// <param name="synapse">The synapse from the previous layer.</param>
    /// <param name="threshold">theta &gt; 0: a scalar tensor, per channel [C, 1, 1], or per neuron.</param>
    /// <param name="initialPotential">v(0); null means theta / 2.</param>
    public SpikingNetworkBuilder Layer(string name, Synapse synapse, Tensor threshold, Tensor? initialPotential = null) =>
        Add(name, [new SpikingInput(Last, synapse)], threshold, initialPotential);

    /// <summary>A feed-forward integrate-and-fire layer with one threshold for all neurons and v(0) = theta / 2.</summary>
    /// <param name="name">Layer name.</param>
    /// <param name="synapse">The synapse from the previous layer.</param>
    /// <param name="threshold">theta &gt; 0.</param>
    public SpikingNetworkBuilder Layer(string name, Synapse synapse, double threshold)
    {
        Guard.Positive(threshold, nameof(threshold));
        using var theta = torch.tensor(threshold, dtype, synapse.Weight.device);
        return Layer(name, synapse, theta);
    }

    /// <summary>
    /// A residual block on the previous layer's spikes x: an inner layer "name/main" = IF(main1(x))
    /// and the block's output layer "name" = IF(main2(inner) + shortcut(x)), with the identity as
    /// shortcut when <paramref name="shortcut"/> is null. Both neurons start at v(0) = theta / 2.
    /// </summary>
    /// <param name="name">Block name; the inner layer is named name + "/main".</param>
    /// <param name="main1">First synapse of the main path.</param>
    /// <param name="mainThreshold">theta of the inner neurons, &gt; 0.</param>
    /// <param name="main2">Second synapse of the main path.</param>
    /// <param name="shortcut">Projection synapse, or null for identity.</param>
    /// <param name="outputThreshold">theta of the block's output neurons, &gt; 0.</param>
    public SpikingNetworkBuilder ResidualBlock(string name, Synapse main1, Tensor mainThreshold, Synapse main2, Synapse? shortcut, Tensor outputThreshold)
    {
        if (Last == SpikingNetwork.ImageSource)
        {
            throw new InvalidOperationException($"residual block {name} needs a spiking layer before it: its shortcut carries spikes");
        }

        var blockInput = Last;
        Add(name + "/main", [new SpikingInput(blockInput, main1)], mainThreshold);
        return Add(name, [new SpikingInput(Last, main2), new SpikingInput(blockInput, shortcut)], outputThreshold);
    }

    /// <summary>The accumulating output layer (no neuron) fed by the previous layer; it must be the last.</summary>
    /// <param name="name">Layer name.</param>
    /// <param name="synapse">The synapse from the previous layer.</param>
    public SpikingNetworkBuilder Output(string name, Synapse synapse) => Add(name, [new SpikingInput(Last, synapse)], null);

    /// <summary>The network; the builder must end with <see cref="Output"/>.</summary>
    /// <exception cref="InvalidOperationException">No output layer yet.</exception>
    public SpikingNetwork Build()
    {
        if (!closed)
        {
            throw new InvalidOperationException("the network has no output layer: call Output(...) last");
        }

        return new SpikingNetwork(InputShape, layers.ToArray());
    }
}
